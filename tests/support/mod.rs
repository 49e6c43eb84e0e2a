//! A real server on 127.0.0.1:0 and real WebSocket clients, for the transport tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, WsConfig};
use pkg_router::{Hub, Principal, ResponseModel, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Tokens `alice`, `bob`, `admin` (roles in the table), `expired`, and `short:<ms>` (valid for
/// that many milliseconds).
pub struct TestAuth;

impl Authenticator for TestAuth {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        let roles: HashMap<&str, &[&str]> = HashMap::from([
            ("alice", &["view-books", "create-book"][..]),
            ("bob", &["view-books"][..]),
            (
                "admin",
                &["view-books", "create-book", "delete-book", "admin"][..],
            ),
        ]);
        let result = if token == "expired" {
            Ok(Principal::new("expired", "expired")
                .with_expiry(SystemTime::now() - Duration::from_secs(5)))
        } else if let Some(ms) = token.strip_prefix("short:") {
            let ms: u64 = ms.parse().unwrap();
            Ok(Principal::new("short", "short")
                .with_roles(["view-books"])
                .with_expiry(SystemTime::now() + Duration::from_millis(ms)))
        } else if let Some(name) = token.strip_prefix("user:") {
            Ok(Principal::new(name, name).with_roles(["view-books"]))
        } else if let Some(roles) = roles.get(token) {
            Ok(Principal::new(token, token).with_roles(roles.iter().copied()))
        } else {
            Err(AuthError::InvalidToken("unknown test token".into()))
        };
        Box::pin(async move { result })
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub hub: Hub,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(router: Router, config: WsConfig) -> Self {
        Self::start_with_send_buffer(router, config, None).await
    }

    /// Like `start`, with a fixed (small) kernel send buffer on accepted sockets, so that a
    /// client that stops reading fills the pipe quickly.
    pub async fn start_with_send_buffer(
        router: Router,
        config: WsConfig,
        send_buffer: Option<u32>,
    ) -> Self {
        Self::start_endpoint(Endpoint::new(router, config), send_buffer).await
    }

    /// Like `start`, with changes to the endpoint (lifecycle hooks).
    pub async fn start_with(
        router: Router,
        config: WsConfig,
        change: impl FnOnce(Endpoint) -> Endpoint,
    ) -> Self {
        Self::start_endpoint(change(Endpoint::new(router, config)), None).await
    }

    async fn start_endpoint(endpoint: Endpoint, send_buffer: Option<u32>) -> Self {
        let endpoint = endpoint.with_authenticator(TestAuth);
        let hub = endpoint.hub().clone();
        let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = send_buffer {
            socket.set_send_buffer_size(size).unwrap();
        }
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1024).unwrap();
        let addr = listener.local_addr().unwrap();
        // Stopped by `Drop` (abort), never by a signal: tests share one process.
        let serve = pkg_router::axum::serve(listener, app, hub.clone())
            .with_shutdown_signal(std::future::pending());
        let task = tokio::spawn(async move { serve.await.unwrap() });
        Self { addr, hub, task }
    }

    pub fn url(&self, query: &str) -> String {
        format!("ws://{}/web{query}", self.addr)
    }

    /// Connects with a small kernel receive buffer and authenticates.
    pub async fn login_with_receive_buffer(&self, token: &str, size: u32) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(size).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        let (mut client, _) =
            tokio_tungstenite::client_async(self.url(""), MaybeTlsStream::Plain(stream))
                .await
                .unwrap();
        authenticate(&mut client, token).await;
        client
    }

    /// Connects without authenticating.
    pub async fn connect(&self) -> Client {
        connect_async(self.url("")).await.unwrap().0
    }

    /// Connects and authenticates with `token`, expecting `auth_ok`.
    pub async fn login(&self, token: &str) -> Client {
        let mut client = self.connect().await;
        authenticate(&mut client, token).await;
        client
    }

    /// Waits until the hub holds `n` connections.
    pub async fn wait_for_connections(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.hub.connection_count() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} connections, have {}",
                self.hub.connection_count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends the auth frame for `token` and expects `auth_ok`.
pub async fn authenticate(client: &mut Client, token: &str) {
    let frame = json!({"type": "auth", "token": format!("Bearer {token}")});
    send_json(client, &frame).await;
    assert_eq!(next_json(client).await, json!({"type": "auth_ok"}));
}

pub async fn send_json(client: &mut Client, value: &Value) {
    client.send(Message::text(value.to_string())).await.unwrap();
}

pub async fn send_request(client: &mut Client, pkg_id: u32, data: Value) -> String {
    let req_id = uuid::Uuid::new_v4().to_string();
    send_json(
        client,
        &json!({"pkg_id": pkg_id, "req_id": req_id, "data": data}),
    )
    .await;
    req_id
}

/// The next text frame as JSON (control frames skipped); panics on close or after 10 s.
pub async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("no frame within 10 s")
            .expect("connection ended")
            .expect("connection error");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Sends a request and returns its response (skipping broadcasts).
pub async fn call(client: &mut Client, pkg_id: u32, data: Value) -> ResponseModel {
    let req_id = send_request(client, pkg_id, data).await;
    loop {
        let value = next_json(client).await;
        if value["req_id"] == req_id.as_str() {
            return serde_json::from_value(value).unwrap();
        }
    }
}

/// Reads until the server closes; returns the close frame (code, reason), or `None` when the
/// connection ended without one.
pub async fn expect_close(client: &mut Client) -> Option<(u16, String)> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("connection not closed within 10 s");
        match next {
            Some(Ok(Message::Close(frame))) => {
                return frame
                    .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}
