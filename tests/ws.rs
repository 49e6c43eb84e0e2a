//! The WebSocket transport over real sockets: [protocol](pkg_router::protocol) §1, §4 and §6.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use futures_util::{SinkExt, StreamExt};
use pkg_router::hub::close_code;
use pkg_router::transport::{AuthMode, RateLimit, WsConfig};
use pkg_router::{
    ConnectionInfo, HandlerError, Hub, Principal, RequestModel, Route, Router, RspCode,
};
use serde_json::{Value, json};
use std::time::Duration;
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ECHO: u32 = 1;
const PROTECTED: u32 = 2;
const SLOW: u32 = 3;
const ANNOUNCE: u32 = 4;
const WHO: u32 = 5;
const PUSH: u32 = 100;

async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(req.data))
}

async fn slow(req: RequestModel) -> Result<Value, HandlerError> {
    let ms = req.data.get("ms").and_then(Value::as_u64).unwrap_or(200);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({"slept": ms}))
}

/// Broadcasts `data` to everyone (the Python `connection_manager.broadcast`).
async fn announce(req: RequestModel, hub: Hub) -> Result<usize, HandlerError> {
    hub.broadcast(PUSH, &Value::Object(req.data))
}

async fn who(principal: Principal, connection: ConnectionInfo) -> Result<Value, HandlerError> {
    Ok(
        json!({"user": principal.name, "anonymous": principal.is_anonymous(), "has_peer": connection.peer.is_some()}),
    )
}

fn router() -> Router {
    Router::builder()
        .hub(Hub::new())
        .handler(ECHO, echo)
        .route(Route::new(PROTECTED, echo).roles(["create-book"]))
        .handler(SLOW, slow)
        .handler(ANNOUNCE, announce)
        .handler(WHO, who)
        .build()
        .unwrap()
}

fn config() -> WsConfig {
    let mut config = WsConfig::default();
    config.auth_timeout = Duration::from_millis(300);
    config
}

async fn server() -> Server {
    Server::start(router(), config()).await
}

async fn server_with(change: impl FnOnce(&mut WsConfig)) -> Server {
    let mut config = config();
    change(&mut config);
    Server::start(router(), config).await
}

async fn http_status(url: &str, origin: Option<&str>) -> u16 {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

// --- Upgrade (section 1, 6.1) ---

#[tokio::test]
async fn unknown_format_is_refused_with_400() {
    let server = server().await;
    assert_eq!(http_status(&server.url("?format=xml"), None).await, 400);
    assert_eq!(http_status(&server.url("?format=JSON"), None).await, 101);
    assert_eq!(http_status(&server.url("?format=json"), None).await, 101);
}

#[tokio::test]
async fn origin_outside_the_allow_list_is_refused_with_403() {
    let server = server_with(|c| c.allowed_origins = vec!["https://books.example".into()]).await;
    assert_eq!(
        http_status(&server.url(""), Some("https://evil.example")).await,
        403
    );
    assert_eq!(
        http_status(&server.url(""), Some("https://books.example")).await,
        101
    );
    assert_eq!(http_status(&server.url(""), None).await, 101);
}

#[tokio::test]
async fn connections_over_the_total_limit_get_503() {
    let server = server_with(|c| c.max_connections = 2).await;
    let _a = server.login("alice").await;
    let _b = server.login("bob").await;
    assert_eq!(http_status(&server.url(""), None).await, 503);
}

// --- Authentication (6.2) ---

#[tokio::test]
async fn auth_frame_then_requests() {
    let server = server().await;
    let mut client = server.login("alice").await;
    let response = call(&mut client, PROTECTED, json!({"x": 1})).await;
    assert_eq!(response.status_code, RspCode::Ok);
    assert_eq!(response.data, json!({"x": 1}));
}

#[tokio::test]
async fn auth_scheme_is_case_insensitive() {
    let server = server().await;
    let mut client = server.connect().await;
    send_json(
        &mut client,
        &json!({"type": "auth", "token": "bEaReR alice"}),
    )
    .await;
    assert_eq!(next_json(&mut client).await, json!({"type": "auth_ok"}));
}

#[tokio::test]
async fn bad_token_closes_with_4001() {
    let server = server().await;
    let mut client = server.connect().await;
    send_json(
        &mut client,
        &json!({"type": "auth", "token": "Bearer nobody"}),
    )
    .await;
    let (code, reason) = expect_close(&mut client).await.unwrap();
    assert_eq!(code, close_code::AUTH_FAILED);
    assert!(reason.contains("invalid token"), "{reason}");
}

#[tokio::test]
async fn a_request_instead_of_the_auth_frame_closes_with_4001() {
    let server = server().await;
    let mut client = server.connect().await;
    send_request(&mut client, ECHO, json!({})).await;
    assert_eq!(
        expect_close(&mut client).await.unwrap().0,
        close_code::AUTH_FAILED
    );
}

#[tokio::test]
async fn an_auth_frame_must_be_an_object_not_an_array() {
    let server = server().await;
    let mut client = server.connect().await;
    send_json(&mut client, &json!(["auth", "Bearer alice"])).await;
    assert_eq!(
        expect_close(&mut client).await,
        Some((close_code::AUTH_FAILED, "expected an auth frame".to_owned()))
    );
}

#[tokio::test]
async fn missing_bearer_scheme_closes_with_4001() {
    let server = server().await;
    let mut client = server.connect().await;
    send_json(&mut client, &json!({"type": "auth", "token": "alice"})).await;
    assert_eq!(
        expect_close(&mut client).await.unwrap().0,
        close_code::AUTH_FAILED
    );
}

#[tokio::test]
async fn no_auth_frame_in_time_closes_with_4002() {
    let server = server().await;
    let mut client = server.connect().await;
    assert_eq!(
        expect_close(&mut client).await.unwrap().0,
        close_code::AUTH_TIMEOUT
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_with_4001() {
    let server = server().await;
    let mut client = server.connect().await;
    send_json(
        &mut client,
        &json!({"type": "auth", "token": "Bearer expired"}),
    )
    .await;
    assert_eq!(
        expect_close(&mut client).await.unwrap(),
        (4001, "token expired".into())
    );
}

#[tokio::test]
async fn the_connection_closes_with_4001_when_the_token_expires() {
    let server = server().await;
    let mut client = server.login("short:300").await;
    assert_eq!(
        call(&mut client, ECHO, json!({})).await.status_code,
        RspCode::Ok
    );
    assert_eq!(
        expect_close(&mut client).await.unwrap(),
        (4001, "token expired".into())
    );
}

#[tokio::test]
async fn optional_auth_lets_anonymous_callers_use_public_handlers_only() {
    let server = server_with(|c| c.auth = AuthMode::Optional).await;
    let mut anonymous = server.connect().await;
    // The first frame is a request: the session is anonymous and the request is answered.
    let response = call(&mut anonymous, WHO, json!({})).await;
    assert_eq!(response.data["anonymous"], true);
    let denied = call(&mut anonymous, PROTECTED, json!({})).await;
    assert_eq!(denied.status_code, RspCode::PermissionDenied);
    // Authenticated callers on the same server get their roles.
    let mut alice = server.login("alice").await;
    assert_eq!(
        call(&mut alice, PROTECTED, json!({})).await.status_code,
        RspCode::Ok
    );
}

#[tokio::test]
async fn disabled_auth_treats_everyone_as_anonymous() {
    let server = server_with(|c| c.auth = AuthMode::Disabled).await;
    let mut client = server.connect().await;
    let response = call(&mut client, WHO, json!({})).await;
    assert_eq!(
        response.data,
        json!({"user": "anonymous", "anonymous": true, "has_peer": true})
    );
}

// --- Limits (6.3) ---

#[tokio::test]
async fn a_message_over_the_size_limit_closes_with_1009() {
    let server = server_with(|c| c.max_message_size = 1024).await;
    let mut client = server.login("alice").await;
    send_request(&mut client, ECHO, json!({"blob": "x".repeat(2048)})).await;
    assert_eq!(
        expect_close(&mut client).await.unwrap().0,
        close_code::TOO_BIG
    );
}

#[tokio::test]
async fn a_sixth_connection_of_one_principal_closes_with_1008() {
    let server = server().await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(server.login("alice").await);
    }
    let mut sixth = server.connect().await;
    send_json(
        &mut sixth,
        &json!({"type": "auth", "token": "Bearer alice"}),
    )
    .await;
    // The refusal is the first thing the client hears: no `auth_ok` before it.
    match sixth.next().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1008);
            assert_eq!(
                frame.reason.as_str(),
                "Maximum concurrent connections exceeded"
            );
        }
        other => panic!("expected the 1008 close first, got {other:?}"),
    }
    // Another principal is unaffected.
    server.login("bob").await;
}

#[tokio::test]
async fn over_the_rate_limit_requests_get_rate_limited_and_the_connection_stays() {
    let server =
        server_with(|c| c.rate_limit = Some(RateLimit::new(3, Duration::from_secs(60)))).await;
    let mut alice = server.login("alice").await;
    for _ in 0..3 {
        assert_eq!(
            call(&mut alice, ECHO, json!({})).await.status_code,
            RspCode::Ok
        );
    }
    let limited = call(&mut alice, ECHO, json!({})).await;
    assert_eq!(limited.status_code, RspCode::Error);
    let body = limited.error_body().unwrap();
    assert_eq!(body.code, "rate_limited");
    assert!(body.details.unwrap()["retry_after_ms"].as_u64().unwrap() > 0);
    // The limit is per principal: a second connection of alice shares it, bob does not.
    let mut alice2 = server.login("alice").await;
    assert_eq!(
        call(&mut alice2, ECHO, json!({}))
            .await
            .error_body()
            .unwrap()
            .code,
        "rate_limited"
    );
    let mut bob = server.login("bob").await;
    assert_eq!(
        call(&mut bob, ECHO, json!({})).await.status_code,
        RspCode::Ok
    );
}

#[tokio::test]
async fn requests_run_concurrently_and_answers_correlate_by_req_id() {
    let server = server().await;
    let mut client = server.login("alice").await;
    let slow_id = send_request(&mut client, SLOW, json!({"ms": 300})).await;
    let fast_id = send_request(&mut client, ECHO, json!({"fast": true})).await;
    let first = next_json(&mut client).await;
    let second = next_json(&mut client).await;
    assert_eq!(
        first["req_id"],
        fast_id.as_str(),
        "the fast request overtakes the slow one"
    );
    assert_eq!(second["req_id"], slow_id.as_str());
}

#[tokio::test]
async fn in_flight_limit_of_one_keeps_request_order() {
    let server = server_with(|c| c.max_in_flight = 1).await;
    let mut client = server.login("alice").await;
    let slow_id = send_request(&mut client, SLOW, json!({"ms": 200})).await;
    let fast_id = send_request(&mut client, ECHO, json!({})).await;
    assert_eq!(next_json(&mut client).await["req_id"], slow_id.as_str());
    assert_eq!(next_json(&mut client).await["req_id"], fast_id.as_str());
}

#[tokio::test]
async fn a_request_over_the_handler_timeout_gets_a_timeout_error() {
    let server = server_with(|c| c.handler_timeout = Some(Duration::from_millis(50))).await;
    let mut client = server.login("alice").await;
    let response = call(&mut client, SLOW, json!({"ms": 5000})).await;
    assert_eq!(response.status_code, RspCode::Error);
    assert_eq!(response.error_body().unwrap().code, "timeout");
    assert_eq!(
        call(&mut client, ECHO, json!({})).await.status_code,
        RspCode::Ok
    );
}

// --- Malformed frames (4.3, 4.4) ---

#[tokio::test]
async fn malformed_frames_are_answered_and_the_connection_stays() {
    let server = server().await;
    let mut client = server.login("alice").await;
    client.send(Message::text("{not json")).await.unwrap();
    let answer = next_json(&mut client).await;
    assert_eq!(answer["status_code"], 2);
    assert_eq!(answer["data"]["code"], "invalid_envelope");
    client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    let answer = next_json(&mut client).await;
    assert_eq!(answer["data"]["code"], "invalid_envelope");
    assert_eq!(
        call(&mut client, ECHO, json!({"still": "open"})).await.data["still"],
        "open"
    );
}

#[tokio::test]
async fn too_many_consecutive_malformed_frames_close_with_1008() {
    let server = server_with(|c| c.max_malformed = 3).await;
    let mut client = server.login("alice").await;
    for _ in 0..3 {
        client.send(Message::text("[]")).await.unwrap();
    }
    let mut answered = 0;
    let close = loop {
        match client.next().await.unwrap().unwrap() {
            Message::Text(_) => answered += 1,
            Message::Close(frame) => break frame.unwrap(),
            _ => {}
        }
    };
    assert_eq!(
        answered, 3,
        "every malformed frame is answered before the close"
    );
    assert_eq!(u16::from(close.code), 1008);
    assert_eq!(close.reason.as_str(), "too many malformed frames");
}

// --- Broadcast (6.7) ---

#[tokio::test]
async fn every_connection_of_a_principal_receives_broadcasts() {
    let server = server().await;
    let mut alice1 = server.login("alice").await;
    let mut alice2 = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut admin = server.login("admin").await;
    server.wait_for_connections(4).await;
    let response = call(&mut admin, ANNOUNCE, json!({"id": 12, "action": "created"})).await;
    assert_eq!(response.data, 4, "queued for every connection");
    for client in [&mut alice1, &mut alice2, &mut bob] {
        let push = next_json(client).await;
        assert_eq!(
            push,
            json!({"pkg_id": PUSH, "req_id": "00000000-0000-0000-0000-000000000000", "data": {"id": 12, "action": "created"}})
        );
    }
    // A push to a principal reaches both of alice's connections and not bob's.
    assert_eq!(
        server
            .hub
            .to_principal("alice")
            .push(PUSH, &json!({"to": "alice"}))
            .unwrap(),
        2
    );
    assert_eq!(next_json(&mut alice1).await["data"]["to"], "alice");
    assert_eq!(next_json(&mut alice2).await["data"]["to"], "alice");
    let nothing = tokio::time::timeout(Duration::from_millis(100), bob.next()).await;
    assert!(nothing.is_err(), "bob must not receive alice's push");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_while_fifty_others_keep_receiving() {
    let mut config = config();
    // Readers may lag a little on a loaded machine; the client that never reads overflows
    // anyway: ~25 KiB of socket buffers plus 48 queued frames is far below 150 x 4 KiB.
    config.outbound_queue = 48;
    let server = Server::start_with_send_buffer(router(), config, Some(8 * 1024)).await;
    let mut slow = server
        .login_with_receive_buffer("user:slow", 4 * 1024)
        .await;
    let mut readers = Vec::new();
    for i in 0..50 {
        readers.push(server.login(&format!("user:reader{i}")).await);
    }
    server.wait_for_connections(51).await;

    const MESSAGES: usize = 150;
    let counters: Vec<_> = readers
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while seen.len() < MESSAGES {
                    let push = next_json(&mut client).await;
                    seen.push(push["data"]["n"].as_u64().unwrap());
                }
                (seen, client)
            })
        })
        .collect();
    let payload = "x".repeat(4 * 1024);
    for n in 0..MESSAGES {
        server
            .hub
            .broadcast(PUSH, &json!({"n": n, "payload": payload}))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut clients = Vec::new();
    for counter in counters {
        let (seen, client) = counter.await.unwrap();
        assert_eq!(
            seen,
            (0..MESSAGES as u64).collect::<Vec<_>>(),
            "nothing lost, in order"
        );
        clients.push(client);
    }
    // The slow client was dropped from the hub and its connection ends (1008 if the close frame
    // got through the full pipe, or an abrupt end).
    server.wait_for_connections(50).await;
    if let Some((code, reason)) = expect_close(&mut slow).await {
        assert_eq!((code, reason.as_str()), (1008, "slow consumer"));
    }
}

#[tokio::test]
async fn pushes_queued_while_a_request_runs_arrive_before_its_answer() {
    let server = server().await;
    let mut admin = server.login("admin").await;
    server.wait_for_connections(1).await;
    // The handler broadcasts (to its own caller too) and then answers.
    let req_id = send_request(&mut admin, ANNOUNCE, json!({"seq": 1})).await;
    let first = next_json(&mut admin).await;
    let second = next_json(&mut admin).await;
    assert_eq!(
        (first["pkg_id"].as_u64(), &first["data"]),
        (Some(u64::from(PUSH)), &json!({"seq": 1}))
    );
    assert_eq!(second["req_id"], req_id.as_str());
    assert_eq!(second["data"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_pushes_longer_than_one_write_turn_arrives_whole_and_in_order() {
    // The driver yields after a few hundred frames per wake; it must come back for the rest.
    const MESSAGES: u64 = 2_000;
    let server = server_with(|c| c.outbound_queue = 4_096).await;
    let mut clients = vec![server.login("alice").await, server.login("bob").await];
    server.wait_for_connections(2).await;
    for n in 0..MESSAGES {
        server.hub.broadcast(PUSH, &json!({"n": n})).unwrap();
    }
    for client in &mut clients {
        for n in 0..MESSAGES {
            assert_eq!(next_json(client).await["data"]["n"], n);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_but_never_reads_is_closed_as_a_slow_consumer() {
    // Answers pile up on the server once the socket buffers are full; past `outbound_queue`
    // the connection is closed instead of buffering without bound.
    let mut config = config();
    config.outbound_queue = 8;
    config.rate_limit = None;
    let server = Server::start_with_send_buffer(router(), config, Some(8 * 1024)).await;
    let client = server.login_with_receive_buffer("alice", 4 * 1024).await;
    server.wait_for_connections(1).await;
    let payload = "x".repeat(4 * 1024);
    let (mut sink, mut stream) = client.split();
    let sender = tokio::spawn(async move {
        for _ in 0..2_000 {
            let frame =
                json!({"pkg_id": ECHO, "req_id": uuid::Uuid::new_v4(), "data": {"p": payload}});
            if sink.send(Message::text(frame.to_string())).await.is_err() {
                break; // closed by the server
            }
        }
    });
    server.wait_for_connections(0).await;
    sender.abort();
    // Whatever arrives last is the close frame, if it got through the full pipe at all.
    let mut close = None;
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(5), stream.next()).await
    {
        if let Message::Close(frame) = message {
            close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            break;
        }
    }
    if let Some(close) = close {
        assert_eq!(close, (1008, "slow consumer".to_owned()));
    }
}

#[tokio::test]
async fn live_connection_count_tracks_opens_and_closes() {
    let server = server().await;
    assert_eq!(server.hub.connection_count(), 0);
    let a = server.login("alice").await;
    let mut b = server.login("bob").await;
    server.wait_for_connections(2).await;
    drop(a);
    server.wait_for_connections(1).await;
    b.close(None).await.unwrap();
    server.wait_for_connections(0).await;
}

// --- Keepalive (6.4) ---

#[tokio::test]
async fn the_server_pings_and_drops_a_peer_that_never_answers() {
    let server = server_with(|c| {
        c.ping_interval = Duration::from_millis(100);
        c.pong_timeout = Duration::from_millis(100);
        // `silent` never answers the close frame either; `live` is not read meanwhile.
        c.close_linger = Duration::from_millis(50);
    })
    .await;
    let mut live = server.login("alice").await;
    let silent = server.login("bob").await;
    server.wait_for_connections(2).await;
    // `live` reads (and so answers pings); `silent` is never polled again.
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        while pings < 4 {
            if let Some(Ok(Message::Ping(_))) = live.next().await {
                pings += 1;
            }
        }
        live
    });
    let mut live = reader.await.unwrap();
    server.wait_for_connections(1).await;
    assert_eq!(
        call(&mut live, ECHO, json!({})).await.status_code,
        RspCode::Ok
    );
    drop(silent);
}

// --- Shutdown (6.6) ---

#[tokio::test]
async fn graceful_shutdown_answers_in_flight_requests_then_closes_with_1001() {
    let server = server_with(|c| c.shutdown_grace = Duration::from_secs(5)).await;
    let mut client = server.login("alice").await;
    let mut idle = server.login("bob").await;
    server.wait_for_connections(2).await;
    let req_id = send_request(&mut client, SLOW, json!({"ms": 300})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let hub = server.hub.clone();
    let shutdown = tokio::spawn(async move { hub.shutdown().await });
    // The in-flight request is still answered.
    let response = next_json(&mut client).await;
    assert_eq!(response["req_id"], req_id.as_str());
    assert_eq!(response["data"], json!({"slept": 300}));
    assert_eq!(
        expect_close(&mut client).await.unwrap().0,
        close_code::GOING_AWAY
    );
    assert_eq!(
        expect_close(&mut idle).await.unwrap().0,
        close_code::GOING_AWAY
    );
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .unwrap()
        .unwrap();
    // New connections are refused.
    assert_eq!(http_status(&server.url(""), None).await, 503);
}

#[tokio::test]
async fn a_long_auth_error_still_arrives_as_a_readable_4001() {
    use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint};
    struct Verbose;
    impl Authenticator for Verbose {
        fn authenticate<'a>(&'a self, _token: &'a str) -> AuthFuture<'a> {
            Box::pin(async { Err(AuthError::InvalidToken("é".repeat(300))) })
        }
    }
    let endpoint = Endpoint::new(router(), config()).with_authenticator(Verbose);
    let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/web", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send_json(&mut client, &json!({"type": "auth", "token": "Bearer x"})).await;
    let (code, reason) = expect_close(&mut client)
        .await
        .expect("a readable close frame");
    assert_eq!(code, close_code::AUTH_FAILED);
    assert!(
        reason.len() <= pkg_router::hub::MAX_REASON_BYTES && reason.starts_with("invalid token: é")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_sent_right_after_auth_ok_is_received() {
    let server = server().await;
    for round in 0..20 {
        let mut client = server.login("alice").await;
        // No waiting for the hub: `auth_ok` means the connection is registered.
        assert!(
            server
                .hub
                .broadcast(PUSH, &json!({"round": round}))
                .unwrap()
                >= 1
        );
        assert_eq!(next_json(&mut client).await["data"]["round"], round);
        client.close(None).await.unwrap();
        server.wait_for_connections(0).await;
    }
}
