//! Memory per connection: the server's resident memory with no connection, with N idle
//! (authenticated where the server requires it) connections, and after each of them made one
//! request.

use crate::child::ServerProcess;
use crate::client::{self, Ws};
use crate::proto;
use crate::{BenchError, Kind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 64;

/// Resident memory of the server, KiB.
#[derive(Debug)]
pub(crate) struct MemoryOutcome {
    pub(crate) before_kib: u64,
    pub(crate) idle_kib: u64,
    pub(crate) after_request_kib: u64,
}

/// Opens `count` connections to `server`, reading its memory before, with them idle, and after
/// one request on each; the server gets `settle` before each reading.
pub(crate) async fn run(
    kind: Kind,
    server: &ServerProcess,
    count: usize,
    settle: Duration,
) -> Result<MemoryOutcome, BenchError> {
    tokio::time::sleep(settle).await;
    let before_kib = server.rss_kib()?;
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = Vec::with_capacity(count);
    for conn in 0..count {
        let gate = Arc::clone(&gate);
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            client::connect(kind, addr, conn, &["create-book"]).await
        }));
    }
    let mut connections: Vec<Ws> = Vec::with_capacity(count);
    for task in tasks {
        connections.push(task.await??);
    }
    tokio::time::sleep(settle).await;
    let idle_kib = server.rss_kib()?;

    // One request on every connection (their buffers and queues are used once).
    let mut tasks = Vec::with_capacity(count);
    for (conn, mut ws) in connections.into_iter().enumerate() {
        let gate = Arc::clone(&gate);
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let id = proto::request_id(conn, 0);
            let frame = client::create_book_frame(kind, &id);
            let reply = client::call(&mut ws, frame, &client::reply_key(kind, &id)).await?;
            drop(permit);
            if client::is_success(kind, &reply) {
                Ok(ws)
            } else {
                Err(BenchError::from(format!("request failed: {reply}")))
            }
        }));
    }
    let mut connections = Vec::with_capacity(count);
    for task in tasks {
        connections.push(task.await??);
    }
    tokio::time::sleep(settle).await;
    let after_request_kib = server.rss_kib()?;
    for mut ws in connections {
        let _ = ws.close(None).await;
    }
    Ok(MemoryOutcome {
        before_kib,
        idle_kib,
        after_request_kib,
    })
}
