//! The load client: WebSocket connections to any of the servers, the first-frame auth
//! handshake where the server requires it (the Socket.IO connect where it speaks Socket.IO),
//! and the closed- and open-loop request generators.

use crate::proto::{self, BOOK_JSON, CREATE_BOOK, JWT_SECRET, RPC_CREATE_BOOK, SIO_CREATE_BOOK};
use crate::{BenchError, Kind};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use pkg_router::jwt::Claims;
use pkg_router::protobuf::Message as _;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// One client connection.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// How long any single reply may take before the harness calls it lost.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest a closed loop with a request budget may run.
const BUDGET_CAP: Duration = Duration::from_secs(120);

/// A latency histogram in nanoseconds, 1 us to 120 s, 3 significant digits.
pub(crate) fn histogram() -> Result<Histogram<u64>, BenchError> {
    Ok(Histogram::new_with_bounds(1_000, 120_000_000_000, 3)?)
}

/// Opens connection number `conn` to `kind` at `addr`; authenticates with a fresh HS256 token
/// for user `bench-<conn>` holding `roles` where the server requires it.
pub(crate) async fn connect(
    kind: Kind,
    addr: SocketAddr,
    conn: usize,
    roles: &[&str],
) -> Result<Ws, BenchError> {
    let tcp = TcpStream::connect(addr).await?;
    handshake(kind, addr, tcp, conn, roles).await
}

/// [`connect`] from source address `source` (bound before connecting, port chosen by the
/// kernel): each source address has its own range of ephemeral ports, so several of them
/// carry more connections to one server address than one could.
pub(crate) async fn connect_from(
    kind: Kind,
    addr: SocketAddr,
    source: IpAddr,
    conn: usize,
    roles: &[&str],
) -> Result<Ws, BenchError> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // A port of an earlier run still in TIME_WAIT may be taken again.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(addr).await?;
    handshake(kind, addr, tcp, conn, roles).await
}

/// The WebSocket upgrade on `tcp` and, where `kind` requires it, the auth handshake.
async fn handshake(
    kind: Kind,
    addr: SocketAddr,
    tcp: TcpStream,
    conn: usize,
    roles: &[&str],
) -> Result<Ws, BenchError> {
    tcp.set_nodelay(true)?;
    let url = match kind {
        Kind::PkgRouter => format!("ws://{addr}/web"),
        Kind::PkgRouterProtobuf => format!("ws://{addr}/web?format=protobuf"),
        Kind::Floor | Kind::Jsonrpsee => format!("ws://{addr}/"),
        // Engine.IO v4 straight on the WebSocket transport (no long-polling first).
        Kind::Socketioxide => format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
    };
    // Small client buffers: the memory run holds 10 000 connections in this process.
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await?;
    if kind.requires_auth() {
        let token = Claims::new(format!("bench-{conn}"))
            .realm_roles(roles.iter().copied())
            .expires_in(Duration::from_secs(3600))
            .sign_hs256(JWT_SECRET)?;
        ws.send(Message::text(format!(
            r#"{{"type":"auth","token":"Bearer {token}"}}"#
        )))
        .await?;
        let reply = next_text(&mut ws).await?;
        if reply != r#"{"type":"auth_ok"}"# {
            return Err(format!("auth refused: {reply}").into());
        }
    }
    if kind == Kind::Socketioxide {
        sio_connect(&mut ws).await?;
    }
    Ok(ws)
}

/// The Engine.IO open packet (`0{"sid":..,"pingInterval":..}`), then the Socket.IO connect to
/// the namespace `/` (`40`, answered `40{"sid":..}`). socketioxide sends its first ping (`2`)
/// as soon as the session opens, so it comes before the connect's answer and is answered here:
/// the next one comes a ping interval (25 s) later and may wait up to the ping timeout (20 s)
/// for its pong, which any later read through [`call`] sends.
async fn sio_connect(ws: &mut Ws) -> Result<(), BenchError> {
    let open = next_text(ws).await?;
    if !open.starts_with("0{") {
        return Err(format!("no Engine.IO open packet: {open}").into());
    }
    ws.send(Message::text("40")).await?;
    loop {
        let text = next_text(ws).await?;
        if answer_ping(ws, &text).await? {
            continue;
        }
        if text.starts_with("40") {
            return Ok(());
        }
        return Err(format!("Socket.IO connect refused: {text}").into());
    }
}

/// Answers an Engine.IO ping (`2`, sent only by the socketioxide server) with a pong (`3`);
/// whether `text` was one.
pub(crate) async fn answer_ping(ws: &mut Ws, text: &str) -> Result<bool, BenchError> {
    if text != "2" {
        return Ok(false);
    }
    ws.send(Message::text("3")).await?;
    Ok(true)
}

/// The next text frame (control frames skipped); an error on close, failure or time-out.
pub(crate) async fn next_text(ws: &mut Ws) -> Result<String, BenchError> {
    loop {
        let message = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .map_err(|_| format!("no frame within {REPLY_TIMEOUT:?}"))?
            .ok_or("connection ended")??;
        match message {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(frame) => return Err(format!("closed by the server: {frame:?}").into()),
            _ => continue,
        }
    }
}

/// The CREATE_BOOK request with id `id`, as the message `kind`'s clients send.
pub(crate) fn create_book_message(kind: Kind, id: &str) -> Message {
    if kind == Kind::PkgRouterProtobuf {
        let req_id = uuid::Uuid::parse_str(id).unwrap_or_default();
        let request = pkg_router::protobuf::Request::new(CREATE_BOOK, req_id, BOOK_JSON);
        return Message::binary(request.encode_to_vec());
    }
    Message::text(create_book_frame(kind, id))
}

/// A protobuf `Response`'s `req_id` and whether its status is 0, read without a copy of
/// `data_json` (the client's cost should not grow with the format it measures).
fn read_protobuf_reply(bytes: &[u8]) -> Option<(String, bool)> {
    let response = pkg_router::protobuf::Response::decode(bytes).ok()?;
    Some((response.req_id, response.status_code == 0))
}

/// Sends CREATE_BOOK with id `id` and waits for its answer (other frames, pushes, skipped):
/// whether it succeeded.
pub(crate) async fn create_book(ws: &mut Ws, kind: Kind, id: &str) -> Result<bool, BenchError> {
    if kind != Kind::PkgRouterProtobuf {
        let reply = call(ws, create_book_frame(kind, id), &reply_key(kind, id)).await?;
        return Ok(is_success(kind, &reply));
    }
    ws.send(create_book_message(kind, id)).await?;
    loop {
        let message = tokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .map_err(|_| format!("no frame within {REPLY_TIMEOUT:?}"))?
            .ok_or("connection ended")??;
        match message {
            Message::Binary(bytes) => {
                if let Some((req_id, ok)) = read_protobuf_reply(&bytes)
                    && req_id == id
                {
                    return Ok(ok);
                }
            }
            Message::Close(frame) => return Err(format!("closed by the server: {frame:?}").into()),
            _ => {}
        }
    }
}

/// The `seq` and success of an open-loop reply, in either format.
fn open_loop_reply(kind: Kind, message: &Message) -> Option<(u64, bool)> {
    match message {
        Message::Text(text) => Some((
            if kind == Kind::Socketioxide {
                proto::sio_ack_id(text.as_str())?
            } else {
                proto::seq_of_response(text.as_str())?
            },
            is_success(kind, text.as_str()),
        )),
        Message::Binary(bytes) => {
            let (req_id, ok) = read_protobuf_reply(bytes)?;
            Some((proto::seq_of_response(&req_id)?, ok))
        }
        _ => None,
    }
}

/// The CREATE_BOOK request with id `id`, in `kind`'s protocol (JSON text).
pub(crate) fn create_book_frame(kind: Kind, id: &str) -> String {
    match kind {
        Kind::PkgRouter | Kind::Floor | Kind::PkgRouterProtobuf => {
            format!(r#"{{"pkg_id":{CREATE_BOOK},"req_id":"{id}","data":{BOOK_JSON}}}"#)
        }
        Kind::Jsonrpsee => format!(
            r#"{{"jsonrpc":"2.0","id":"{id}","method":"{RPC_CREATE_BOOK}","params":{BOOK_JSON}}}"#
        ),
        // An EVENT with an ack id (namespace `/`): the request id's sequence number.
        Kind::Socketioxide => format!(r#"42{}["{SIO_CREATE_BOOK}",{BOOK_JSON}]"#, sio_ack(id)),
    }
}

/// The Socket.IO ack id standing for request id `id`: its sequence number (unique on its
/// connection, which is all an ack id needs).
pub(crate) fn sio_ack(id: &str) -> u64 {
    proto::seq_of_response(id).unwrap_or(0)
}

/// What the answer to request `id` contains: the id itself, or for Socket.IO the ack's head
/// `43<ack id>[`.
pub(crate) fn reply_key(kind: Kind, id: &str) -> Cow<'_, str> {
    if kind == Kind::Socketioxide {
        Cow::Owned(format!("43{}[", sio_ack(id)))
    } else {
        Cow::Borrowed(id)
    }
}

/// Whether a response frame reports success.
pub(crate) fn is_success(kind: Kind, frame: &str) -> bool {
    match kind {
        Kind::PkgRouter | Kind::Floor | Kind::PkgRouterProtobuf => {
            frame.contains(r#""status_code":0"#)
        }
        Kind::Jsonrpsee => frame.contains(r#""result":"#),
        // The ack carries the result, or `{"error":..}`.
        Kind::Socketioxide => !frame.contains(r#""error":"#),
    }
}

/// Sends `frame` and returns the response containing `key` (see [`reply_key`]; other frames,
/// pushes, are skipped, Engine.IO pings answered).
pub(crate) async fn call(ws: &mut Ws, frame: String, key: &str) -> Result<String, BenchError> {
    ws.send(Message::text(frame)).await?;
    loop {
        let text = next_text(ws).await?;
        if text.contains(key) {
            return Ok(text);
        }
        answer_ping(ws, &text).await?;
    }
}

/// What one load run measured (closed or open loop).
#[derive(Debug)]
pub(crate) struct LoadOutcome {
    /// Round trips of successful requests, inside the measured window.
    pub(crate) histogram: Histogram<u64>,
    /// Error responses inside the window.
    pub(crate) errors: u64,
    /// Requests sent but never answered (open loop) or connections that failed (closed loop).
    pub(crate) lost: u64,
    /// Length of the measured window.
    pub(crate) window: Duration,
    /// This process's CPU time in the window.
    pub(crate) client_cpu: Duration,
    /// The server's CPU time in the window.
    pub(crate) server_cpu: Duration,
}

impl LoadOutcome {
    /// Adds another round's figures to these.
    pub(crate) fn absorb(&mut self, other: LoadOutcome) -> Result<(), BenchError> {
        self.histogram.add(other.histogram)?;
        self.errors += other.errors;
        self.lost += other.lost;
        self.window += other.window;
        self.client_cpu += other.client_cpu;
        self.server_cpu += other.server_cpu;
        Ok(())
    }
}

/// How long and how much.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoadShape {
    pub(crate) connections: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Closed loop: stop after this many requests in all (then no warm-up applies).
    pub(crate) max_requests: Option<u64>,
}

/// Samples this process's and the server's CPU time.
fn cpu_now(server: &crate::child::ServerProcess) -> Result<(Duration, Duration), BenchError> {
    Ok((crate::procfs::cpu_time("self")?, server.cpu_time()?))
}

/// Closed loop: every connection sends a request, awaits its response, repeats.
pub(crate) async fn closed_loop(
    kind: Kind,
    server: &crate::child::ServerProcess,
    shape: LoadShape,
) -> Result<LoadOutcome, BenchError> {
    let mut connections = Vec::with_capacity(shape.connections);
    for conn in 0..shape.connections {
        connections.push(connect(kind, server.addr, conn, &["create-book"]).await?);
    }
    let budget = shape.max_requests.map(|n| Arc::new(AtomicU64::new(n)));
    let warmup = if budget.is_some() {
        Duration::ZERO
    } else {
        shape.warmup
    };
    let start = Instant::now();
    let measure_from = start + warmup;
    // With a request budget the run ends when it is spent (bounded all the same).
    let end = measure_from
        + if budget.is_some() {
            shape.duration.max(BUDGET_CAP)
        } else {
            shape.duration
        };
    let mut tasks = Vec::with_capacity(shape.connections);
    for (conn, mut ws) in connections.into_iter().enumerate() {
        let budget = budget.clone();
        tasks.push(tokio::spawn(async move {
            let mut histogram = histogram()?;
            let mut errors = 0u64;
            let mut seq = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if let Some(budget) = &budget
                    && budget
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_err()
                {
                    break;
                }
                let id = proto::request_id(conn, seq);
                seq += 1;
                let success = create_book(&mut ws, kind, &id).await?;
                if now >= measure_from {
                    if success {
                        histogram.saturating_record(duration_ns(now.elapsed()));
                    } else {
                        errors += 1;
                    }
                }
            }
            let _ = ws.close(None).await;
            Ok::<_, BenchError>((histogram, errors))
        }));
    }
    tokio::time::sleep_until(measure_from).await;
    let (client_before, server_before) = cpu_now(server)?;
    let window_start = Instant::now();
    let mut outcome = LoadOutcome {
        histogram: histogram()?,
        errors: 0,
        lost: 0,
        window: Duration::ZERO,
        client_cpu: Duration::ZERO,
        server_cpu: Duration::ZERO,
    };
    let mut first_error = None;
    for task in tasks {
        match task.await? {
            Ok((histogram, errors)) => {
                outcome.histogram.add(histogram)?;
                outcome.errors += errors;
            }
            Err(err) => {
                outcome.lost += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    let (client_after, server_after) = cpu_now(server)?;
    outcome.window = window_start.elapsed();
    outcome.client_cpu = client_after.saturating_sub(client_before);
    outcome.server_cpu = server_after.saturating_sub(server_before);
    if let Some(err) = first_error {
        return Err(format!("{} of the connections failed, first: {err}", outcome.lost).into());
    }
    Ok(outcome)
}

/// Open loop: `rate` requests per second in all, spread evenly over the connections, each sent
/// at its scheduled time whether or not earlier ones were answered. Latency counts from the
/// scheduled send time, so a server that falls behind is charged for the queue it builds.
pub(crate) async fn open_loop(
    kind: Kind,
    server: &crate::child::ServerProcess,
    shape: LoadShape,
    rate: f64,
) -> Result<LoadOutcome, BenchError> {
    let mut connections = Vec::with_capacity(shape.connections);
    for conn in 0..shape.connections {
        connections.push(connect(kind, server.addr, conn, &["create-book"]).await?);
    }
    let per_connection = rate.max(1.0) / shape.connections as f64;
    let interval = Duration::from_secs_f64(1.0 / per_connection);
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + shape.warmup;
    let end = measure_from + shape.duration;
    let drain_until = end + Duration::from_secs(5);
    let mut tasks = Vec::with_capacity(shape.connections);
    for (conn, ws) in connections.into_iter().enumerate() {
        // Stagger the connections across one interval.
        let offset = interval.mul_f64(conn as f64 / shape.connections as f64);
        let first = start + offset;
        let (mut sink, mut stream) = ws.split();
        let sent = Arc::new(AtomicU64::new(0));
        let writer_sent = Arc::clone(&sent);
        // Engine.IO pings the reader saw, for the writer to answer (socketioxide only).
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let writer = tokio::spawn(async move {
            let mut seq = 0u64;
            loop {
                let at = first + interval.mul_f64(seq as f64);
                if at >= end {
                    break;
                }
                tokio::select! {
                    biased;
                    Some(()) = pong_rx.recv() => {
                        if sink.send(Message::text("3")).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    () = tokio::time::sleep_until(at) => {}
                }
                let id = proto::request_id(conn, seq);
                if sink.send(create_book_message(kind, &id)).await.is_err() {
                    break;
                }
                seq += 1;
                writer_sent.store(seq, Ordering::Release);
            }
            sink
        });
        tasks.push(tokio::spawn(async move {
            let mut histogram = histogram()?;
            let (mut errors, mut received) = (0u64, 0u64);
            let mut writer = Some(writer);
            loop {
                if writer.as_ref().is_some_and(|handle| handle.is_finished())
                    && let Some(handle) = writer.take()
                {
                    let _sink = handle.await?;
                }
                if writer.is_none() && received >= sent.load(Ordering::Acquire) {
                    break;
                }
                let Ok(next) = tokio::time::timeout_at(
                    drain_until.min(Instant::now() + Duration::from_millis(100)),
                    stream.next(),
                )
                .await
                else {
                    if Instant::now() >= drain_until {
                        break;
                    }
                    continue;
                };
                let Some(Ok(message)) = next else { break };
                if matches!(&message, Message::Text(text) if text.as_str() == "2") {
                    let _ = pong_tx.send(());
                    continue;
                }
                let Some((seq, success)) = open_loop_reply(kind, &message) else {
                    continue;
                };
                received += 1;
                let scheduled = first + interval.mul_f64(seq as f64);
                if scheduled >= measure_from {
                    if success {
                        histogram.saturating_record(duration_ns(scheduled.elapsed()));
                    } else {
                        errors += 1;
                    }
                }
            }
            if let Some(handle) = writer {
                handle.abort();
            }
            let sent = sent.load(Ordering::Acquire);
            Ok::<_, BenchError>((histogram, errors, sent.saturating_sub(received)))
        }));
    }
    tokio::time::sleep_until(measure_from).await;
    let (client_before, server_before) = cpu_now(server)?;
    tokio::time::sleep_until(end).await;
    let (client_after, server_after) = cpu_now(server)?;
    let mut outcome = LoadOutcome {
        histogram: histogram()?,
        errors: 0,
        lost: 0,
        window: end - measure_from,
        client_cpu: client_after.saturating_sub(client_before),
        server_cpu: server_after.saturating_sub(server_before),
    };
    for task in tasks {
        let (histogram, errors, lost) = task.await??;
        outcome.histogram.add(histogram)?;
        outcome.errors += errors;
        outcome.lost += lost;
    }
    Ok(outcome)
}

/// A duration in whole nanoseconds (saturating).
pub(crate) fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
