//! (f) The connection driver fed any sequence of frames: `Endpoint::serve` over an in-memory
//! socket whose client sends requests, malformed text, binary, pings, pongs, a close or a read
//! error, lets virtual time pass, reads slowly or not at all, while the hub broadcasts and may
//! shut down. The settings (auth mode, in-flight limit, queue sizes, malformed limit, timeouts,
//! keepalive, rate limit) come from the input too.
//!
//! Checks: no panic; the connection task ends; at most one close frame and nothing after it;
//! `auth_ok` first when auth is required; no request answered twice, no more answers than data
//! frames and no more pushes than were queued; with an in-flight limit of 1, answers in request
//! order; and when the server did not close by itself, once the client stops and waits, every
//! data frame it sent got exactly one answer and every queued push arrived.

use super::app::{self, CREATE, ECHO, LIST, PUSH, SLEEP};
use super::pipe::{self, Client};
use super::values;
use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use pkg_router::hub::{CloseReason, close_code};
use pkg_router::transport::{AuthMode, Endpoint, Frame, RateLimit, SocketError, WsConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// One step of the client (or of the server's application).
#[derive(Debug)]
enum Action {
    /// A well-formed request with a fresh `req_id`.
    Request {
        pkg_id: u32,
        data: Value,
    },
    /// Any text (maybe not even UTF-8: the codec must cope).
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping,
    Pong,
    Close,
    TooBig,
    Broken,
    /// The application broadcasts a push.
    Broadcast,
    /// The server shuts down.
    Shutdown,
    /// Virtual time passes.
    Sleep(Duration),
    /// The client reads up to this many frames.
    Read(u8),
}

fn action(u: &mut Unstructured<'_>) -> Result<Action> {
    Ok(match u.int_in_range(0..=19)? {
        0..=5 => {
            let pkg_id = app::IDS[u.choose_index(app::IDS.len())?];
            let data = match pkg_id {
                SLEEP => json!({"ms": u.int_in_range(0..=3_000u64)?}),
                CREATE => json!({"title": "Dune", "author_id": u.int_in_range(0..=2i64)?}),
                LIST => {
                    json!({"page": u.int_in_range(0..=6u32)?, "per_page": u.int_in_range(0..=12u32)?})
                }
                ECHO => Value::Object(values::object(u, 1)?),
                _ => json!({}),
            };
            Action::Request { pkg_id, data }
        }
        6 | 7 => Action::Text(Vec::<u8>::arbitrary(u)?),
        8 => Action::Binary(Vec::<u8>::arbitrary(u)?),
        9 => Action::Ping,
        10 => Action::Pong,
        11 => Action::Close,
        12 => Action::TooBig,
        13 => Action::Broken,
        14 | 15 => Action::Broadcast,
        16 => Action::Shutdown,
        17 | 18 => Action::Sleep(Duration::from_millis(u.int_in_range(0..=8_000)?)),
        _ => Action::Read(u.arbitrary()?),
    })
}

#[derive(Debug)]
struct Setup {
    config: WsConfig,
    capacity: Option<usize>,
    token: &'static str,
    actions: Vec<Action>,
}

fn setup(u: &mut Unstructured<'_>) -> Result<Setup> {
    let mut config = WsConfig::default();
    config.auth =
        [AuthMode::Disabled, AuthMode::Optional, AuthMode::Required][u.choose_index(3)?];
    config.max_in_flight = u.int_in_range(1..=4)?;
    config.outbound_queue = u.int_in_range(1..=8)?;
    config.max_malformed = u.int_in_range(0..=3)?;
    config.handler_timeout = if u.arbitrary()? {
        Some(Duration::from_millis(u.int_in_range(1..=3_000)?))
    } else {
        None
    };
    config.ping_interval = Duration::from_millis(u.int_in_range(500..=30_000)?);
    config.pong_timeout = Duration::from_millis(u.int_in_range(100..=10_000)?);
    config.rate_limit = if u.ratio(1, 4)? {
        Some(RateLimit::new(
            u.int_in_range(1..=6)?,
            Duration::from_secs(60),
        ))
    } else {
        None
    };
    config.shutdown_grace = Duration::from_millis(u.int_in_range(0..=4_000)?);
    let capacity = if u.arbitrary()? {
        None
    } else {
        Some(u.int_in_range(1..=4)?)
    };
    let token = ["ann", "bob", "slow"][u.choose_index(3)?];
    let mut actions = Vec::new();
    while !u.is_empty() && actions.len() < 48 {
        actions.push(action(u)?);
    }
    Ok(Setup {
        config,
        capacity,
        token,
        actions,
    })
}

/// What the client saw.
#[derive(Default, Debug)]
struct Seen {
    frames: Vec<Frame>,
}

/// The target.
pub fn connection(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = setup(&mut u) else {
        return;
    };
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{setup:#?}");
    }
    app::runtime().block_on(run(setup));
}

async fn run(setup: Setup) {
    let Setup {
        config,
        capacity,
        token,
        actions,
    } = setup;
    let auth = config.auth;
    let in_order = config.max_in_flight == 1;
    // The router has no hub: the endpoint makes a new one, this connection's alone.
    let endpoint = Arc::new(Endpoint::new(app::router(), config).with_authenticator(app::Tokens));
    let hub = endpoint.hub().clone();
    let admission = endpoint.admit(None, None).expect("admitted");
    let (socket, mut client) = pipe::pipe(capacity);
    let task = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));

    let mut seen = Seen::default();
    // Data frames the server reads as requests, and the req_ids of the well-formed ones.
    let mut data_frames = 0usize;
    let mut sent_ids: Vec<Uuid> = Vec::new();
    let mut queued_pushes = 0usize;
    // Once the client closed, errored or the server began shutting down, not every frame sent
    // is read.
    let mut ended = false;
    let mut shutdown = None;
    // req_ids that arbitrary text happens to carry: not counted as ours.
    let mut foreign: Vec<Uuid> = Vec::new();
    let mut next_id = 1u128;
    let mut request = |client: &Client, pkg_id: u32, data: Value, ids: &mut Vec<Uuid>| {
        let req_id = Uuid::from_u128(next_id);
        next_id += 1;
        ids.push(req_id);
        let frame = json!({"pkg_id": pkg_id, "req_id": req_id, "data": data});
        client.send(pipe::text(frame.to_string()))
    };
    match auth {
        AuthMode::Required => {
            let auth = json!({"type": "auth", "token": format!("Bearer {token}")});
            client.send(pipe::text(auth.to_string()));
        }
        AuthMode::Optional => {
            // A request first: the handshake replays it, so it is answered like any other.
            request(&client, ECHO, json!({}), &mut sent_ids);
            data_frames += 1;
        }
        _ => {}
    }
    for action in actions {
        match action {
            Action::Request { pkg_id, data } => {
                request(&client, pkg_id, data, &mut sent_ids);
                data_frames += 1;
            }
            Action::Text(bytes) => {
                foreign.extend(req_id_in(&bytes));
                client.send(Ok(Frame::Text(Bytes::from(bytes))));
                data_frames += 1;
            }
            Action::Binary(bytes) => {
                client.send(Ok(Frame::Binary(Bytes::from(bytes))));
                data_frames += 1;
            }
            Action::Ping => {
                client.send(Ok(Frame::Ping(Bytes::new())));
            }
            Action::Pong => {
                client.send(Ok(Frame::Pong(Bytes::new())));
            }
            Action::Close => {
                client.send(Ok(Frame::Close(Some(CloseReason::new(
                    close_code::NORMAL,
                    "",
                )))));
                ended = true;
            }
            Action::TooBig => {
                client.send(Err(SocketError::TooBig));
                ended = true;
            }
            Action::Broken => {
                client.send(Err(SocketError::Closed("reset".into())));
                ended = true;
            }
            Action::Broadcast => {
                queued_pushes += hub
                    .broadcast(PUSH, &json!({"n": queued_pushes}))
                    .expect("a push");
            }
            Action::Shutdown => {
                if shutdown.is_none() {
                    let hub = hub.clone();
                    shutdown = Some(tokio::spawn(async move { hub.shutdown().await }));
                }
                ended = true;
            }
            Action::Sleep(duration) => tokio::time::sleep(duration).await,
            Action::Read(n) => {
                for _ in 0..n {
                    match client.try_recv() {
                        Some(frame) => seen.frames.push(frame),
                        None => break,
                    }
                }
            }
        }
        // Let the server run between steps, as a real peer's frames arrive spread out.
        tokio::task::yield_now().await;
    }

    // The client stops sending and waits, reading everything and answering keepalive, until
    // every frame is answered and every push arrived (handlers take at most 5 s each), or the
    // server closes.
    for _ in 0..1_000 {
        while let Some(frame) = client.try_recv() {
            seen.frames.push(frame);
        }
        if closed(&seen) || ended || client.server_gone() {
            break;
        }
        let (answers, pushes) = tally(&seen);
        if answers >= data_frames && pushes >= queued_pushes {
            break;
        }
        client.send(Ok(Frame::Pong(Bytes::new())));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    while let Some(frame) = client.try_recv() {
        seen.frames.push(frame);
    }
    // The server may also drop a client that does not read without a close frame (it cannot
    // write one): that ends the connection too.
    let closed_by_server = closed(&seen) || client.server_gone();
    client.hang_up();
    loop {
        match tokio::time::timeout(Duration::from_secs(3_600), client.recv()).await {
            Ok(Some(frame)) => seen.frames.push(frame),
            Ok(None) => break,
            Err(_) => panic!("the server neither wrote nor closed: {seen:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(3_600), task)
        .await
        .expect("the connection task ends")
        .expect("the connection task does not panic");
    if let Some(shutdown) = shutdown {
        tokio::time::timeout(Duration::from_secs(3_600), shutdown)
            .await
            .expect("the shutdown ends")
            .expect("the shutdown does not panic");
    }
    assert_eq!(hub.connection_count(), 0);

    sent_ids.retain(|id| !foreign.contains(id));
    let complete = !ended && !closed_by_server;
    let shut_down = hub.is_shutting_down();
    check(
        &seen,
        auth,
        in_order,
        data_frames,
        &sent_ids,
        queued_pushes,
        shut_down,
        complete,
    );
}

/// The req_id a frame carries, as the decoder reads it (also from a malformed one).
fn req_id_in(bytes: &[u8]) -> Option<Uuid> {
    let text = std::str::from_utf8(bytes).ok()?;
    let req_id = match pkg_router::RequestModel::from_json(text) {
        Ok(request) => request.req_id,
        Err(err) => err.req_id,
    };
    (!req_id.is_nil()).then_some(req_id)
}

/// Answers and pushes received so far.
fn tally(seen: &Seen) -> (usize, usize) {
    let mut tally = (0, 0);
    for frame in &seen.frames {
        if let Frame::Text(bytes) = frame
            && let Ok(value) = serde_json::from_slice::<Value>(bytes)
        {
            if value.get("status_code").is_some() {
                tally.0 += 1;
            } else if value.get("pkg_id").is_some() {
                tally.1 += 1;
            }
        }
    }
    tally
}

fn closed(seen: &Seen) -> bool {
    seen.frames.iter().any(|f| matches!(f, Frame::Close(_)))
}

#[allow(clippy::too_many_arguments)]
fn check(
    seen: &Seen,
    auth: AuthMode,
    in_order: bool,
    data_frames: usize,
    sent_ids: &[Uuid],
    queued_pushes: usize,
    shut_down: bool,
    complete: bool,
) {
    let frames = &seen.frames;
    let closes = frames
        .iter()
        .filter(|f| matches!(f, Frame::Close(_)))
        .count();
    assert!(closes <= 1, "{closes} close frames: {frames:?}");
    if closes == 1 {
        assert!(
            matches!(frames.last(), Some(Frame::Close(_))),
            "frames after the close: {frames:?}"
        );
        if let Some(Frame::Close(Some(reason))) = frames.last() {
            assert!(
                [1000, 1001, 1008, 1009, 4001].contains(&reason.code),
                "{reason:?}"
            );
        }
    }
    let mut answers = 0usize;
    let mut pushes = 0usize;
    let mut auth_ok = 0usize;
    let mut by_id: HashMap<Uuid, usize> = HashMap::new();
    let mut order = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let bytes = match frame {
            Frame::Text(bytes) => bytes,
            Frame::Ping(_) | Frame::Close(_) => continue,
            other => panic!("the server sent {other:?}"),
        };
        if &bytes[..] == br#"{"type":"auth_ok"}"# {
            assert_eq!(
                i - count_pings(&frames[..i]),
                0,
                "auth_ok comes first: {frames:?}"
            );
            auth_ok += 1;
            continue;
        }
        let value: Value = serde_json::from_slice(bytes).expect("the server sends JSON");
        if value.get("status_code").is_some() {
            answers += 1;
            let req_id: Uuid = serde_json::from_value(value["req_id"].clone()).expect("a req_id");
            if sent_ids.contains(&req_id) {
                *by_id.entry(req_id).or_default() += 1;
                order.push(req_id);
            }
        } else {
            assert_eq!(value["pkg_id"], PUSH, "{value}");
            pushes += 1;
        }
    }
    assert!(
        auth_ok <= usize::from(auth == AuthMode::Required),
        "{frames:?}"
    );
    if auth == AuthMode::Required && auth_ok == 0 {
        // Only a shutdown before the connection registered refuses a good token.
        assert!(shut_down && closes == 1, "no auth_ok: {frames:?}");
    }
    assert!(
        by_id.values().all(|n| *n == 1),
        "a request answered twice: {frames:?}"
    );
    assert!(
        answers <= data_frames,
        "{answers} answers to {data_frames} frames"
    );
    assert!(
        pushes <= queued_pushes,
        "{pushes} pushes of {queued_pushes}"
    );
    if in_order {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "answers out of order with max_in_flight 1");
    }
    if complete {
        assert_eq!(answers, data_frames, "unanswered frames: {frames:?}");
        assert_eq!(
            by_id.len(),
            sent_ids.len(),
            "unanswered requests: {frames:?}"
        );
        assert_eq!(pushes, queued_pushes, "lost pushes: {frames:?}");
    }
}

fn count_pings(frames: &[Frame]) -> usize {
    frames
        .iter()
        .filter(|f| matches!(f, Frame::Ping(_)))
        .count()
}
