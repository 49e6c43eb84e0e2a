//! How connections end, over real sockets with a raw client that writes WebSocket frames byte
//! by byte: protocol violations get their RFC 6455 close codes, the close handshake lingers
//! for the peer's close frame, shutdown answers what it read, and HTTP clients that never
//! finish their upgrade are dropped (`pkg_router::axum::serve`).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use pkg_router::hub::close_code;
use pkg_router::transport::{AuthMode, WsConfig};
use pkg_router::{HandlerError, Hub, RequestModel, Router};
use serde_json::{Value, json};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;
use support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const FIN: u8 = 0x80;

async fn slow(req: RequestModel) -> Result<Value, HandlerError> {
    let ms = req.data.get("ms").and_then(Value::as_u64).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({"slept": ms}))
}

fn router() -> Router {
    Router::builder().handler(1, slow).build().unwrap()
}

async fn open_server(change: impl FnOnce(&mut WsConfig)) -> Server {
    let mut config = WsConfig::default();
    config.auth = AuthMode::Disabled;
    config.rate_limit = None;
    change(&mut config);
    Server::start(router(), config).await
}

/// A client that speaks WebSocket by hand.
struct Raw {
    stream: TcpStream,
    /// Bytes read past the last parsed frame.
    buffer: Vec<u8>,
}

/// A frame the server sent.
#[derive(Debug)]
struct ServerFrame {
    opcode: u8,
    payload: Vec<u8>,
}

impl Raw {
    /// Connects and upgrades.
    async fn connect(addr: SocketAddr) -> Raw {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"GET /web HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Raw {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes one frame: `first` is the first header byte (FIN, RSV bits, opcode).
    async fn send(&mut self, first: u8, payload: &[u8], masked: bool) {
        let mut frame = vec![first];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            len @ 0..=125 => frame.push(mask_bit | len as u8),
            len @ 126..=65535 => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if masked {
            let key = [0x12, 0x34, 0x56, 0x78];
            frame.extend_from_slice(&key);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            frame.extend_from_slice(payload);
        }
        self.stream.write_all(&frame).await.unwrap();
    }

    async fn request(&mut self, n: u32, ms: u64) {
        let text = json!({"pkg_id": 1, "req_id": req_id(n), "data": {"ms": ms}}).to_string();
        self.send(FIN | TEXT, text.as_bytes(), true).await;
    }

    /// The next frame; `Err` when the connection ended (the error kind tells a reset from an
    /// orderly end).
    async fn next(&mut self) -> Result<ServerFrame, std::io::ErrorKind> {
        loop {
            if self.buffer.len() >= 2 {
                let len = (self.buffer[1] & 0x7f) as usize;
                let (start, len) = match len {
                    126 if self.buffer.len() >= 4 => (
                        4,
                        u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize,
                    ),
                    127 if self.buffer.len() >= 10 => (
                        10,
                        u64::from_be_bytes(self.buffer[2..10].try_into().unwrap()) as usize,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    len => (2, len),
                };
                if start != usize::MAX && self.buffer.len() >= start + len {
                    let frame = ServerFrame {
                        opcode: self.buffer[0] & 0x0f,
                        payload: self.buffer[start..start + len].to_vec(),
                    };
                    self.buffer.drain(..start + len);
                    return Ok(frame);
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk)).await
            {
                Err(_) => panic!("nothing from the server within 10 s"),
                Ok(Ok(0)) => return Err(std::io::ErrorKind::UnexpectedEof),
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Ok(Err(err)) => return Err(err.kind()),
            }
        }
    }

    /// Reads until the close frame; its code, and the text answers before it.
    async fn close_code(&mut self) -> (u16, Vec<Value>) {
        let mut answers = Vec::new();
        loop {
            let frame = self
                .next()
                .await
                .expect("connection ended without a close frame");
            match frame.opcode {
                CLOSE => {
                    assert!(frame.payload.len() >= 2, "close frame without a code");
                    return (
                        u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
                        answers,
                    );
                }
                TEXT => answers.push(serde_json::from_slice(&frame.payload).unwrap()),
                _ => {}
            }
        }
    }

    /// After the server's close frame: replies with ours, then expects an orderly end (FIN,
    /// not a reset).
    async fn finish_close(&mut self) {
        self.send(FIN | CLOSE, &1000u16.to_be_bytes(), true).await;
        match self.next().await {
            Err(std::io::ErrorKind::UnexpectedEof) => {}
            other => panic!("expected the server to end the connection cleanly, got {other:?}"),
        }
    }
}

/// The `n`th request id.
fn req_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn violation_closes_with(code: u16, violate: impl AsyncFnOnce(&mut Raw)) {
    let server = open_server(|_| {}).await;
    let mut raw = Raw::connect(server.addr).await;
    // The connection works before the violation.
    raw.request(1, 0).await;
    let answer = raw.next().await.unwrap();
    assert_eq!(answer.opcode, TEXT);
    violate(&mut raw).await;
    let (got, _) = raw.close_code().await;
    assert_eq!(got, code);
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    violation_closes_with(close_code::INVALID_PAYLOAD, async |raw| {
        raw.send(FIN | TEXT, b"{\"pkg_id\": 1, \"x\": \"\xff\xfe\"}", true)
            .await;
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8_split_across_fragments_closes_with_1007() {
    violation_closes_with(close_code::INVALID_PAYLOAD, async |raw| {
        raw.send(TEXT, b"{\"a\": \"\xc3", true).await;
        raw.send(FIN | CONTINUATION, b"\x28\"}", true).await;
    })
    .await;
}

#[tokio::test]
async fn a_control_frame_over_125_bytes_closes_with_1002() {
    violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
        raw.send(FIN | PING, &[b'x'; 126], true).await;
    })
    .await;
}

#[tokio::test]
async fn a_fragmented_ping_closes_with_1002() {
    violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
        raw.send(PING, b"part", true).await;
    })
    .await;
}

#[tokio::test]
async fn reserved_bits_close_with_1002() {
    for rsv in [0x40, 0x20, 0x10] {
        violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
            raw.send(FIN | rsv | TEXT, b"{}", true).await;
        })
        .await;
    }
}

#[tokio::test]
async fn an_unmasked_client_frame_closes_with_1002() {
    violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
        raw.send(FIN | TEXT, b"{}", false).await;
    })
    .await;
}

#[tokio::test]
async fn reserved_opcodes_close_with_1002() {
    for opcode in [0x3, 0x7, 0xB, 0xF] {
        violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
            raw.send(FIN | opcode, b"", true).await;
        })
        .await;
    }
}

#[tokio::test]
async fn an_orphan_continuation_closes_with_1002() {
    violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
        raw.send(FIN | CONTINUATION, b"{}", true).await;
    })
    .await;
}

#[tokio::test]
async fn a_data_frame_inside_a_fragmented_message_closes_with_1002() {
    violation_closes_with(close_code::PROTOCOL_ERROR, async |raw| {
        raw.send(TEXT, b"{\"a\":", true).await;
        raw.send(FIN | BINARY, b"\x01", true).await;
    })
    .await;
}

#[tokio::test]
async fn a_violation_in_the_auth_frame_gets_its_code_too() {
    let server = open_server(|config| config.auth = AuthMode::Required).await;
    let mut raw = Raw::connect(server.addr).await;
    raw.send(
        FIN | TEXT,
        b"{\"type\": \"auth\", \"token\": \"\xff\"}",
        true,
    )
    .await;
    assert_eq!(raw.close_code().await.0, close_code::INVALID_PAYLOAD);
}

fn shut_down(hub: &Hub) -> tokio::task::JoinHandle<()> {
    let hub = hub.clone();
    tokio::spawn(async move { hub.shutdown().await })
}

#[tokio::test]
async fn after_its_close_frame_the_server_waits_for_the_peers_and_ends_cleanly() {
    let server = open_server(|config| config.close_linger = Duration::from_secs(60)).await;
    let mut raw = Raw::connect(server.addr).await;
    server.wait_for_connections(1).await;
    let shutdown = shut_down(&server.hub);
    assert_eq!(raw.close_code().await.0, close_code::GOING_AWAY);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.hub.connection_count(),
        1,
        "lingering for our close frame"
    );
    raw.finish_close().await;
    shutdown.await.unwrap();
}

#[tokio::test]
async fn a_peer_that_never_answers_the_close_is_dropped_after_the_linger() {
    let server = open_server(|config| config.close_linger = Duration::from_millis(200)).await;
    let mut raw = Raw::connect(server.addr).await;
    server.wait_for_connections(1).await;
    let shutdown = shut_down(&server.hub);
    let (code, answers) = raw.close_code().await;
    assert_eq!((code, answers.len()), (close_code::GOING_AWAY, 0));
    // Frames sent after the server's close frame are read and discarded, not run; the
    // connection then ends with a FIN, not a reset.
    raw.request(7, 0).await;
    assert_eq!(
        raw.next().await.unwrap_err(),
        std::io::ErrorKind::UnexpectedEof
    );
    shutdown.await.unwrap();
}

/// Shutdown runs every request the server had received, answers it, then closes with 1001;
/// the connection ends with a FIN, not a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_every_request_already_received_then_closes_with_1001() {
    // One request at a time: most of the 40 wait unread in the socket when shutdown starts.
    let server = open_server(|config| config.max_in_flight = 1).await;
    let mut raw = Raw::connect(server.addr).await;
    for req_id in 1..=40 {
        raw.request(req_id, 5).await;
    }
    // The first answer: the server is busy with the rest.
    let first = raw.next().await.unwrap();
    assert_eq!(first.opcode, TEXT);
    let shutdown = shut_down(&server.hub);
    let (code, answers) = raw.close_code().await;
    assert_eq!(code, close_code::GOING_AWAY);
    let mut ids: Vec<String> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer["status_code"], 0, "{answer}");
            answer["req_id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (2..=40).map(req_id).collect::<Vec<_>>(),
        "every request received is answered"
    );
    raw.finish_close().await;
    shutdown.await.unwrap();
}

/// A TCP connection that sends `head` and then nothing.
async fn stall(addr: SocketAddr, head: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    stream
}

/// Whether the server has closed `stream`, waiting at most `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0u8; 64];
    match tokio::time::timeout(wait, stream.read(&mut byte)).await {
        Err(_) => false,
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => panic!("the server sent data to a stalled connection"),
    }
}

async fn serve_with(
    change: impl FnOnce(pkg_router::axum::Serve) -> pkg_router::axum::Serve,
) -> (SocketAddr, Hub, tokio::task::JoinHandle<()>) {
    let mut config = WsConfig::default();
    config.auth = AuthMode::Disabled;
    let endpoint = pkg_router::transport::Endpoint::new(router(), config);
    let hub = endpoint.hub().clone();
    let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = change(
        pkg_router::axum::serve(listener, app, hub.clone())
            .with_shutdown_signal(std::future::pending()),
    );
    (addr, hub, tokio::spawn(async move { serve.await.unwrap() }))
}

#[tokio::test]
async fn a_client_that_never_finishes_its_upgrade_request_is_dropped() {
    let (addr, _hub, task) =
        serve_with(|serve| serve.header_read_timeout(Duration::from_millis(300))).await;
    let mut silent = stall(addr, b"").await;
    let mut partial = stall(addr, b"GET /web HTTP/1.1\r\nHost: test\r\nUpgrade: webso").await;
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await);
    assert!(closed_within(&mut partial, Duration::from_secs(10)).await);
    task.abort();
}

#[tokio::test]
async fn over_the_pending_limit_new_connections_are_closed_and_upgraded_ones_do_not_count() {
    let (addr, hub, task) = serve_with(|serve| {
        serve
            .max_pending_connections(4)
            .header_read_timeout(Duration::from_secs(60))
    })
    .await;
    // An upgraded connection holds no pending slot.
    let mut upgraded = Raw::connect(addr).await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(stall(addr, b"GET /web HTTP/1.1\r\n").await);
    }
    // A normal client still gets in while three handshakes stall (the fourth slot).
    let mut client = Raw::connect(addr).await;
    client.request(1, 0).await;
    assert_eq!(client.next().await.unwrap().opcode, TEXT);
    upgraded.request(2, 0).await;
    assert_eq!(upgraded.next().await.unwrap().opcode, TEXT);
    assert_eq!(hub.connection_count(), 2);

    stalled.push(stall(addr, b"GET /web HTTP/1.1\r\n").await);
    // All four slots hold stalled handshakes: the next connection is closed at once...
    let mut refused = stall(addr, b"").await;
    assert!(closed_within(&mut refused, Duration::from_secs(10)).await);
    // ...while the stalled ones are still held (their timeout is a minute).
    for stream in &mut stalled {
        assert!(!closed_within(stream, Duration::from_millis(50)).await);
    }
    task.abort();
}

#[tokio::test]
async fn a_request_longer_than_the_grace_period_is_abandoned_and_the_client_still_gets_1001() {
    let server = open_server(|config| config.shutdown_grace = Duration::from_millis(200)).await;
    let mut raw = Raw::connect(server.addr).await;
    raw.request(1, 60_000).await;
    // Its answer proves the slow request was read (frames are read in order).
    raw.request(2, 0).await;
    assert_eq!(raw.next().await.unwrap().opcode, TEXT);
    let shutdown = shut_down(&server.hub);
    let (code, answers) = raw.close_code().await;
    assert_eq!((code, answers.len()), (close_code::GOING_AWAY, 0));
    raw.finish_close().await;
    shutdown.await.unwrap();
}

#[tokio::test]
async fn serve_returns_after_its_shutdown_timeout_even_with_connections_left() {
    let mut config = WsConfig::default();
    config.auth = AuthMode::Disabled;
    config.shutdown_grace = Duration::from_secs(600);
    let endpoint = pkg_router::transport::Endpoint::new(router(), config);
    let hub = endpoint.hub().clone();
    let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        pkg_router::axum::serve(listener, app, hub.clone())
            .with_shutdown_signal(async move {
                let _ = stopped.await;
            })
            .shutdown_timeout(Duration::from_millis(300))
            .into_future(),
    );
    let mut raw = Raw::connect(addr).await;
    raw.request(1, 600_000).await; // outlives every timeout but the grace period
    raw.request(2, 0).await;
    assert_eq!(raw.next().await.unwrap().opcode, TEXT);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve did not return after its shutdown timeout")
        .unwrap()
        .unwrap();
    assert_eq!(
        hub.connection_count(),
        1,
        "the connection was still draining"
    );
    // No new connection is accepted any more.
    assert!(TcpStream::connect(addr).await.is_err());
}
