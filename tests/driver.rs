//! The connection driver, deterministically: an in-memory socket (`testing::MemorySocket`) on a
//! current-thread runtime with paused time, so ordering and timers are exact and nothing
//! depends on the machine's speed.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::hub::{CloseReason, close_code};
use pkg_router::testing::{MemoryClient, MemorySocket};
use pkg_router::transport::{AuthMode, Endpoint, Frame, WsConfig};
use pkg_router::{HandlerError, Hub, RequestModel, Router};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const WORK: u32 = 1;
const PUSH: u32 = 100;

/// Pushes `data.pushes` times, then works `data.ms` milliseconds (virtual), then answers.
async fn work(req: RequestModel, hub: Hub) -> Result<Value, HandlerError> {
    let pushes = req.data.get("pushes").and_then(Value::as_u64).unwrap_or(0);
    for n in 0..pushes {
        hub.broadcast(PUSH, &n)?;
    }
    let ms = req.data.get("ms").and_then(Value::as_u64).unwrap_or(0);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Ok(json!({"worked": ms}))
}

struct Connection {
    hub: Hub,
    client: MemoryClient,
    task: JoinHandle<()>,
}

fn open(change: impl FnOnce(&mut WsConfig)) -> Connection {
    let hub = Hub::new();
    let router = Router::builder()
        .hub(hub.clone())
        .handler(WORK, work)
        .build()
        .unwrap();
    let mut config = WsConfig::default();
    config.auth = AuthMode::Disabled;
    config.rate_limit = None;
    change(&mut config);
    let endpoint = Arc::new(Endpoint::new(router, config));
    let (socket, client) = MemorySocket::pair();
    let admission = endpoint.admit(None, None).unwrap();
    let task = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
    Connection { hub, client, task }
}

fn request(n: u32, data: Value) -> String {
    json!({"pkg_id": WORK, "req_id": format!("00000000-0000-4000-8000-{n:012}"), "data": data})
        .to_string()
}

/// The `data` of a text frame, and whether it is a push (nil `req_id`).
fn parse(text: &str) -> (bool, Value) {
    let frame: Value = serde_json::from_str(text).unwrap();
    let push = frame["req_id"] == "00000000-0000-0000-0000-000000000000";
    (push, frame["data"].clone())
}

async fn until_registered(hub: &Hub) {
    while hub.connection_count() == 0 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn pushes_queued_while_a_request_runs_arrive_before_its_answer() {
    let mut conn = open(|_| {});
    // One that waits, and one that pushes and answers in the same poll.
    for (n, ms) in [(1, 50), (2, 0)] {
        conn.client
            .send_text(&request(n, json!({"pushes": 3, "ms": ms})));
        for push in 0..3 {
            assert_eq!(parse(&conn.client.recv_text().await), (true, json!(push)));
        }
        assert_eq!(
            parse(&conn.client.recv_text().await),
            (false, json!({"worked": ms}))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_whose_queue_overflows_is_closed_as_a_slow_consumer() {
    let mut conn = open(|config| config.outbound_queue = 4);
    until_registered(&conn.hub).await;
    // The connection's task does not run between these: its queue of 4 overflows.
    for n in 0..10 {
        conn.hub.broadcast(PUSH, &n).unwrap();
    }
    assert_eq!(
        conn.client.recv_close().await,
        Some(CloseReason::slow_consumer())
    );
    drop(conn.client);
    conn.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_burst_longer_than_one_write_turn_arrives_whole_and_in_order() {
    let mut conn = open(|config| config.outbound_queue = 4_096);
    until_registered(&conn.hub).await;
    for n in 0..2_000 {
        conn.hub.broadcast(PUSH, &n).unwrap();
    }
    for n in 0..2_000 {
        assert_eq!(parse(&conn.client.recv_text().await), (true, json!(n)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_pinged_then_closed_after_the_interval_and_the_pong_timeout() {
    let mut conn = open(|config| {
        config.ping_interval = Duration::from_secs(30);
        config.pong_timeout = Duration::from_secs(10);
    });
    let start = tokio::time::Instant::now();
    assert!(matches!(conn.client.recv().await, Some(Frame::Ping(_))));
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    // Silent: at the next tick (60 s) the peer has been idle for over 40 s.
    let closed = conn.client.recv_close().await.unwrap();
    assert_eq!(
        (closed.code, &*closed.reason),
        (close_code::POLICY, "keepalive timeout")
    );
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_answers_pings_stays() {
    let mut conn = open(|config| {
        config.ping_interval = Duration::from_secs(30);
        config.pong_timeout = Duration::from_secs(10);
    });
    for _ in 0..5 {
        assert!(matches!(conn.client.recv().await, Some(Frame::Ping(_))));
        conn.client.send(Frame::Pong(bytes::Bytes::new()));
    }
    conn.client.send_text(&request(1, json!({})));
    assert_eq!(
        parse(&conn.client.recv_text().await),
        (false, json!({"worked": 0}))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_answers_the_requests_received_then_closes_with_1001() {
    let mut conn = open(|config| config.shutdown_grace = Duration::from_secs(10));
    conn.client.send_text(&request(1, json!({"ms": 3_000})));
    conn.client.send_text(&request(2, json!({"ms": 1_000})));
    until_registered(&conn.hub).await;
    let shutdown = tokio::spawn({
        let hub = conn.hub.clone();
        async move { hub.shutdown().await }
    });
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(parse(&conn.client.recv_text().await).1["worked"].clone());
    }
    assert_eq!(answers, [json!(1_000), json!(3_000)]);
    assert_eq!(
        conn.client.recv().await,
        Some(Frame::Close(Some(CloseReason::going_away())))
    );
    conn.client.send(Frame::Close(None));
    shutdown.await.unwrap();
    conn.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_request_past_the_grace_period_is_abandoned() {
    let mut conn = open(|config| config.shutdown_grace = Duration::from_secs(5));
    conn.client.send_text(&request(1, json!({"ms": 60_000})));
    until_registered(&conn.hub).await;
    tokio::task::yield_now().await; // the request is read and running
    let start = tokio::time::Instant::now();
    let shutdown = tokio::spawn({
        let hub = conn.hub.clone();
        async move { hub.shutdown().await }
    });
    assert_eq!(
        conn.client.recv().await,
        Some(Frame::Close(Some(CloseReason::going_away())))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    conn.client.send(Frame::Close(None));
    shutdown.await.unwrap();
}
