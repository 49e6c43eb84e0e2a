//! `pkg_router::client` against a real server over loopback: every error path (bad token, HTTP
//! refusal, timeout, dropped call, server restart, slow push subscriber) and the happy ones.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use pkg_router::client::{CallError, Client, ConnectError, Reconnect};
use pkg_router::hub::close_code;
use pkg_router::transport::{Endpoint, WsConfig};
use pkg_router::{HandlerError, Hub, Principal, RequestModel, Router};
use serde_json::{Value, json};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::TestAuth;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const ECHO: u32 = 1;
const SLOW: u32 = 2;
const PUSHES: u32 = 3;
const WHO: u32 = 4;
const PUSH: u32 = 100;

async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(req.data))
}

async fn slow(req: RequestModel) -> Result<u64, HandlerError> {
    let ms = req.data.get("ms").and_then(Value::as_u64).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

/// Pushes `n` numbered pushes to everyone.
async fn pushes(req: RequestModel, hub: Hub) -> Result<u64, HandlerError> {
    let n = req.data.get("n").and_then(Value::as_u64).unwrap_or(0);
    for i in 0..n {
        hub.broadcast(PUSH, &i)?;
    }
    Ok(n)
}

async fn who(me: Principal) -> Result<String, HandlerError> {
    Ok(me.name)
}

/// A server that can be stopped gracefully and started again on the same address.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(addr: SocketAddr) -> Server {
        let hub = Hub::new();
        let router = Router::builder()
            .hub(hub.clone())
            .handler(ECHO, echo)
            .handler(SLOW, slow)
            .handler(PUSHES, pushes)
            .handler(WHO, who)
            .build()
            .unwrap();
        let mut config = WsConfig::default();
        config.rate_limit = None;
        config.outbound_queue = 8_192;
        // A request still running at shutdown is abandoned after this (the restart test).
        config.shutdown_grace = Duration::from_millis(300);
        let endpoint = Endpoint::new(router, config).with_authenticator(TestAuth);
        let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = pkg_router::axum::serve(listener, app, hub).with_shutdown_signal(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { serve.into_future().await.unwrap() });
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/web", self.addr)
    }

    /// Graceful shutdown (every client gets 1001), then the listener is gone.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap();
    }
}

async fn server() -> Server {
    Server::start("127.0.0.1:0".parse().unwrap()).await
}

#[tokio::test]
async fn calls_decode_typed_answers_and_errors_carry_code_and_violations() {
    let server = server().await;
    let client = Client::connect(server.url()).token("alice").await.unwrap();
    let echoed: Value = client.call(ECHO, &json!({"a": 1})).await.unwrap();
    assert_eq!(echoed, json!({"a": 1}));
    let name: String = client.call(WHO, &json!({})).await.unwrap();
    assert_eq!(name, "alice");

    let unknown = client
        .call::<_, Value>(77u32, &json!({}))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("unknown_pkg_id"), "{unknown}");
    assert!(!unknown.may_have_run());
    // A payload that is not an object is refused before it is sent.
    assert!(matches!(
        client.call::<_, Value>(ECHO, &[1, 2]).await,
        Err(CallError::Encode(_))
    ));
    // An answer of another shape than asked for.
    assert!(matches!(
        client.call::<_, u64>(WHO, &json!({})).await,
        Err(CallError::Decode(_))
    ));
}

#[tokio::test]
async fn a_bad_token_and_an_http_refusal_are_typed_connect_errors() {
    let server = server().await;
    match Client::connect(server.url()).token("nobody").await {
        Err(ConnectError::Auth { code, .. }) => assert_eq!(code, close_code::AUTH_FAILED),
        other => panic!("expected a 4001, got {other:?}"),
    }
    match Client::connect(format!("{}?format=xml", server.url())).await {
        Err(ConnectError::Http { status, .. }) => assert_eq!(status, 400),
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    assert!(matches!(
        Client::connect("http://example.invalid").await,
        Err(ConnectError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn many_calls_in_flight_on_one_socket_each_get_their_own_answer() {
    let server = server().await;
    let client = Client::connect(server.url()).token("alice").await.unwrap();
    let calls = (0..100u64).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            // Later calls finish first: answers come back out of order.
            let ms: u64 = client.call(SLOW, &json!({"ms": 100 - i})).await.unwrap();
            assert_eq!(ms, 100 - i);
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
}

#[tokio::test]
async fn a_call_past_its_timeout_fails_and_the_connection_stays_healthy() {
    let server = server().await;
    let client = Client::connect(server.url())
        .token("alice")
        .call_timeout(Duration::from_millis(100))
        .await
        .unwrap();
    let late = client.call::<_, u64>(SLOW, &json!({"ms": 400})).await;
    assert!(matches!(late, Err(CallError::Timeout(_))), "{late:?}");
    // The late answer arrives meanwhile and is discarded; the next call gets its own.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        client
            .call::<_, u64>(SLOW, &json!({"ms": 1}))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn dropping_a_call_future_leaves_the_connection_healthy() {
    let server = server().await;
    let client = Client::connect(server.url()).token("alice").await.unwrap();
    let dropped = tokio::spawn({
        let client = client.clone();
        async move { client.call::<_, u64>(SLOW, &json!({"ms": 300})).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    dropped.abort();
    assert!(dropped.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_millis(400)).await; // its answer arrives, unclaimed
    let answer: Value = client.call(ECHO, &json!({"after": true})).await.unwrap();
    assert_eq!(answer, json!({"after": true}));
}

#[tokio::test]
async fn a_slow_push_subscriber_loses_its_oldest_pushes_and_never_stalls_calls() {
    let server = server().await;
    let client = Client::connect(server.url())
        .token("alice")
        .push_buffer(16)
        .await
        .unwrap();
    let mut slow = client.pushes_of(PUSH);
    let mut everything = client.pushes();
    // 1 000 pushes while nobody reads; calls are still answered meanwhile.
    assert_eq!(
        client
            .call::<_, u64>(PUSHES, &json!({"n": 1_000}))
            .await
            .unwrap(),
        1_000
    );
    assert_eq!(
        client.call::<_, Value>(ECHO, &json!({})).await.unwrap(),
        json!({})
    );
    // Every push before the answer was read before it: both buffers are full and in order.
    let mut kept = Vec::new();
    for _ in 0..16 {
        kept.push(everything.next_as::<u64>().await.unwrap().unwrap());
    }
    assert_eq!(kept, (1_000 - 16..1_000).collect::<Vec<u64>>());
    assert_eq!(everything.lagged(), 1_000 - 16);
    // The slow subscriber kept the newest 16 and counted the rest.
    let first = slow.next_as::<u64>().await.unwrap().unwrap();
    assert_eq!(first, 1_000 - 16);
    assert_eq!(slow.lagged(), 1_000 - 16);
}

#[tokio::test]
async fn after_a_server_restart_the_client_reconnects_with_a_fresh_token_and_rejoins() {
    let server = server().await;
    let addr = server.addr;
    let tokens = Arc::new(AtomicUsize::new(0));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let client = Client::connect(server.url())
        .token_provider({
            let tokens = Arc::clone(&tokens);
            move || {
                // A fresh token each time: `user:alice-<n>`.
                let n = tokens.fetch_add(1, Ordering::SeqCst);
                async move { Ok(format!("user:alice-{n}")) }
            }
        })
        .reconnect(Reconnect::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .on_reconnect({
            let reconnects = Arc::clone(&reconnects);
            move |_client| {
                let reconnects = Arc::clone(&reconnects);
                async move {
                    reconnects.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(
        client.call::<_, String>(WHO, &json!({})).await.unwrap(),
        "alice-0"
    );

    // A call in flight when the server shuts down: unanswered at the 1001, so it never ran.
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.call::<_, u64>(SLOW, &json!({"ms": 60_000})).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(server.stop());
    let failed = tokio::time::timeout(Duration::from_secs(30), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(failed, Err(CallError::Closed { code: 1001, .. })),
        "{failed:?}"
    );
    assert!(!client.is_connected());
    assert!(matches!(
        client.call::<_, Value>(ECHO, &json!({})).await,
        Err(CallError::NotConnected)
    ));

    stopping.await.unwrap();
    let _restarted = Server::start(addr).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !client.is_connected() {
        assert!(tokio::time::Instant::now() < deadline, "no reconnect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        client.call::<_, String>(WHO, &json!({})).await.unwrap(),
        "alice-1"
    );
    assert_eq!(reconnects.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_closed_client_fails_calls_at_once() {
    let server = server().await;
    let client = Client::connect(server.url()).token("alice").await.unwrap();
    client.close().await;
    assert!(!client.is_connected());
    assert!(matches!(
        client.call::<_, Value>(ECHO, &json!({})).await,
        Err(CallError::NotConnected)
    ));
}
