//! Text a client controls reaches the logs escaped: a principal name or a close reason with a
//! newline or an ANSI escape cannot forge a log line.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use pkg_router::transport::WsConfig;
use pkg_router::{HandlerError, Router};
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::{Server, authenticate};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn ping() -> Result<&'static str, HandlerError> {
    Ok("pong")
}

#[tokio::test]
async fn a_principal_name_with_a_newline_and_an_escape_stays_on_its_log_line() {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Server::start(
        Router::builder().handler(1, ping).build().unwrap(),
        WsConfig::default(),
    )
    .await;
    // The test authenticator names the principal after the token.
    let mut client = server.connect().await;
    authenticate(
        &mut client,
        "user:eve\n2026-01-01T00:00:00Z INFO forged\u{1b}[31m",
    )
    .await;
    server.wait_for_connections(1).await;
    drop(client);
    server.wait_for_connections(0).await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("eve"), "the principal is logged:\n{text}");
    for line in text.lines() {
        assert!(!line.starts_with("2026-01-01"), "forged line:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "raw escape in the logs:\n{text}");
}
