//! Transport behaviours found while writing the fuzz targets (TESTING.md, Findings), kept as
//! regression tests: each failed before its fix.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "../fuzz/src/targets/pipe.rs"]
#[allow(dead_code, unreachable_pub)]
mod pipe;

use bytes::Bytes;
use pkg_router::hub::{CloseReason, close_code};
use pkg_router::transport::{
    AuthError, AuthFuture, AuthMode, Authenticator, Endpoint, Frame, WsConfig,
};
use pkg_router::{HandlerError, Principal, Router};
use std::sync::Arc;
use std::time::Duration;

const REQUEST: &str = r#"{"pkg_id":1,"req_id":"550e8400-e29b-41d4-a716-446655440000"}"#;

async fn five_seconds() -> Result<&'static str, HandlerError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok("done")
}

/// A peer that answers every ping is alive, even while its requests fill `max_in_flight` and
/// the server stops reading: its pongs went unread and it is closed with 1008 "keepalive
/// timeout" (and its request's answer is lost) once a request outlasted `ping_interval +
/// pong_timeout`. Defaults never meet it (a 30 s handler timeout against 30 + 10 s), a longer
/// handler timeout or none does. Fixed: a tick while the in-flight slots are full counts the
/// peer as seen.
#[tokio::test(start_paused = true)]
async fn a_peer_that_pongs_is_not_dropped_while_its_requests_run() {
    let mut config = WsConfig::default();
    config.auth = AuthMode::Disabled;
    config.max_in_flight = 1;
    config.handler_timeout = None;
    config.ping_interval = Duration::from_secs(1);
    config.pong_timeout = Duration::from_secs(1);
    let router = Router::builder().handler(1, five_seconds).build().unwrap();
    let endpoint = Arc::new(Endpoint::new(router, config));
    let (socket, mut client) = pipe::pipe(None);
    let admission = endpoint.admit(None, None).unwrap();
    let task = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
    client.send(pipe::text(REQUEST));
    let mut frames = Vec::new();
    // 8 s of pongs every 200 ms: far more often than the 1 s pings.
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.send(Ok(Frame::Pong(Bytes::new())));
        while let Some(frame) = client.try_recv() {
            frames.push(frame);
        }
    }
    client.hang_up();
    while let Some(frame) = client.recv().await {
        frames.push(frame);
    }
    task.await.unwrap();
    let answered = frames
        .iter()
        .any(|f| matches!(f, Frame::Text(text) if text.ends_with(br#""data":"done"}"#)));
    assert!(answered, "{frames:?}");
    assert_eq!(
        frames.last(),
        Some(&Frame::Close(Some(CloseReason::new(
            close_code::NORMAL,
            ""
        ))))
    );
}

struct Anyone;

impl Authenticator for Anyone {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    }
}

/// PROTOCOL.md 6.2: the first frame must be `{"type": "auth", "token": "Bearer <token>"}`.
/// `["auth", "Bearer ann"]` authenticated too (the auth frame is a derived serde struct, which
/// also reads a sequence of its fields); fixed: only a JSON object is read as one.
#[tokio::test(start_paused = true)]
async fn an_array_is_not_an_auth_frame() {
    let router = Router::builder().allow_empty().build().unwrap();
    let endpoint = Arc::new(Endpoint::new(router, WsConfig::default()).with_authenticator(Anyone));
    let (socket, mut client) = pipe::pipe(None);
    let admission = endpoint.admit(None, None).unwrap();
    let task = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
    client.send(pipe::text(r#"["auth", "Bearer ann"]"#));
    client.hang_up();
    let first = client.recv().await;
    task.await.unwrap();
    assert_eq!(
        first,
        Some(Frame::Close(Some(CloseReason::new(
            close_code::AUTH_FAILED,
            "expected an auth frame"
        ))))
    );
}
