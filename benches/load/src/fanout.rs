//! Broadcast fan-out: C subscribed clients, one trigger that makes the server broadcast M
//! messages back to back; per message, the time from the broadcast call (stamped in the
//! payload) to the last client's receipt.

use crate::child::ServerProcess;
use crate::client::{self, Ws, histogram};
use crate::proto::{
    self, BROADCAST, RPC_BROADCAST, RPC_SUBSCRIBE, SIO_BROADCAST, SIO_STATS, STATS,
};
use crate::{BenchError, Kind};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 64;

/// What a fan-out run measured.
#[derive(Debug)]
pub(crate) struct FanoutOutcome {
    pub(crate) deliveries: u64,
    /// Per message: broadcast call to last receipt, ns (messages nobody received are skipped).
    pub(crate) last_ns: hdrhistogram::Histogram<u64>,
    /// Per message: broadcast call to first receipt, ns.
    pub(crate) first_ns: hdrhistogram::Histogram<u64>,
    /// First broadcast call to the last receipt of all.
    pub(crate) span: Duration,
    /// Subscribers that ended with an error before receiving everything.
    pub(crate) failed_clients: u64,
    /// The server's CPU time from the trigger to the last receipt.
    pub(crate) server_cpu: Duration,
    pub(crate) client_cpu: Duration,
}

/// One subscriber's receipts: per message, the server's stamp and our receipt time (0: none).
struct Receipts {
    stamped: Vec<u64>,
    received: Vec<u64>,
    count: u64,
    failed: bool,
}

/// Opens a subscriber: authenticated (pkg-router), subscribed (jsonrpsee) or connected to the
/// namespace, which joins the room (socketioxide).
async fn subscriber(kind: Kind, addr: SocketAddr, conn: usize) -> Result<Ws, BenchError> {
    let mut ws = client::connect(kind, addr, conn, &["view-books"]).await?;
    if kind == Kind::Jsonrpsee {
        let frame =
            format!(r#"{{"jsonrpc":"2.0","id":"sub","method":"{RPC_SUBSCRIBE}","params":[]}}"#);
        let reply = client::call(&mut ws, frame, r#""id":"sub""#).await?;
        if !client::is_success(kind, &reply) {
            return Err(format!("subscription refused: {reply}").into());
        }
    }
    Ok(ws)
}

/// Reads until `messages` fan-out messages arrived, or `deadline`.
async fn receive(mut ws: Ws, messages: usize, deadline: Instant) -> Receipts {
    let mut receipts = Receipts {
        stamped: vec![0; messages],
        received: vec![0; messages],
        count: 0,
        failed: false,
    };
    while receipts.count < messages as u64 {
        let next = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(next))) => next,
            Ok(_) | Err(_) => {
                receipts.failed = true;
                break;
            }
        };
        let Message::Text(text) = next else { continue };
        let now = proto::wall_ns();
        let text = text.as_str();
        if text == "2" {
            // An Engine.IO ping (socketioxide): answered, or the server closes the connection.
            if ws.send(Message::text("3")).await.is_err() {
                receipts.failed = true;
                break;
            }
            continue;
        }
        let (Some(seq), Some(t)) = (
            proto::number_after(text, r#""seq":"#),
            proto::number_after(text, r#""t":"#),
        ) else {
            continue;
        };
        let Some(slot) = usize::try_from(seq).ok().filter(|s| *s < messages) else {
            continue;
        };
        if receipts.received[slot] == 0 {
            receipts.count += 1;
        }
        receipts.received[slot] = now;
        receipts.stamped[slot] = t;
    }
    let _ = ws.close(None).await;
    receipts
}

/// Waits until the pkg-router hub (the socketioxide room) holds `expected` connections:
/// `auth_ok` is sent before the connection is registered (socketioxide's connect answer before
/// its connect handler joins the room), so a client that saw it may not receive a broadcast
/// yet.
async fn wait_for_hub(kind: Kind, trigger: &mut Ws, expected: usize) -> Result<(), BenchError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    for seq in 0.. {
        let id = proto::request_id(usize::MAX, seq);
        let frame = if kind == Kind::Socketioxide {
            format!(r#"42{}["{SIO_STATS}"]"#, client::sio_ack(&id))
        } else {
            format!(r#"{{"pkg_id":{STATS},"req_id":"{id}","data":{{}}}}"#)
        };
        let reply = client::call(trigger, frame, &client::reply_key(kind, &id)).await?;
        let have = proto::number_after(&reply, r#""connections":"#).unwrap_or(0);
        if have >= expected as u64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("hub holds {have} connections, expected {expected}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Runs one fan-out: `clients` subscribers, `messages` broadcasts.
pub(crate) async fn run(
    kind: Kind,
    server: &ServerProcess,
    clients: usize,
    messages: usize,
    timeout: Duration,
) -> Result<FanoutOutcome, BenchError> {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), String>>(clients.max(1));
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(clients);
    for conn in 0..clients {
        let gate = Arc::clone(&gate);
        let ready = ready_tx.clone();
        let mut go = go_rx.clone();
        let server_addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let opened = subscriber(kind, server_addr, conn).await;
            drop(permit);
            let ws = match opened {
                Ok(ws) => {
                    let _ = ready.send(Ok(())).await;
                    ws
                }
                Err(err) => {
                    let _ = ready.send(Err(err.to_string())).await;
                    return None;
                }
            };
            // Read from the start (nothing arrives before the trigger).
            let deadline = match go.wait_for(Option::is_some).await {
                Ok(at) => at.unwrap_or_else(Instant::now),
                Err(_) => return None,
            };
            Some(receive(ws, messages, deadline).await)
        }));
    }
    drop(ready_tx);
    for _ in 0..clients {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(err)) => return Err(format!("a subscriber failed to connect: {err}").into()),
            None => return Err("subscribers vanished".into()),
        }
    }
    let admin = clients + 1_000_000;
    let mut trigger = client::connect(kind, server.addr, admin, &["admin"]).await?;
    if matches!(kind, Kind::PkgRouter | Kind::Socketioxide) {
        wait_for_hub(kind, &mut trigger, clients + 1).await?;
    }
    let deadline = Instant::now() + timeout;
    let _ = go_tx.send(Some(deadline));
    let (client_before, server_before) = (crate::procfs::cpu_time("self")?, server.cpu_time()?);
    let id = proto::request_id(admin, 0);
    let frame = match kind {
        Kind::PkgRouter => {
            format!(r#"{{"pkg_id":{BROADCAST},"req_id":"{id}","data":{{"count":{messages}}}}}"#)
        }
        Kind::Jsonrpsee => format!(
            r#"{{"jsonrpc":"2.0","id":"{id}","method":"{RPC_BROADCAST}","params":[{messages}]}}"#
        ),
        Kind::Socketioxide => format!(
            r#"42{}["{SIO_BROADCAST}",{{"count":{messages}}}]"#,
            client::sio_ack(&id)
        ),
        Kind::Floor | Kind::PkgRouterProtobuf => {
            return Err(format!("{} is not in the fan-out runs", kind.name()).into());
        }
    };
    let started = proto::wall_ns();
    let reply = client::call(&mut trigger, frame, &client::reply_key(kind, &id)).await?;
    if !client::is_success(kind, &reply) {
        return Err(format!("broadcast trigger refused: {reply}").into());
    }
    // The trigger connection gets the pushes too (pkg-router, socketioxide): read them off in
    // the background.
    let drain = tokio::spawn(async move {
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, trigger.next()).await {
            if matches!(&message, Message::Text(text) if text.as_str() == "2") {
                let _ = trigger.send(Message::text("3")).await;
            }
        }
        let _ = trigger.close(None).await;
    });
    let mut outcome = FanoutOutcome {
        deliveries: 0,
        last_ns: histogram()?,
        first_ns: histogram()?,
        span: Duration::ZERO,
        failed_clients: 0,
        server_cpu: Duration::ZERO,
        client_cpu: Duration::ZERO,
    };
    let mut last = vec![0u64; messages];
    let mut first = vec![u64::MAX; messages];
    let mut stamped = vec![0u64; messages];
    for task in tasks {
        let Some(receipts) = task.await? else {
            outcome.failed_clients += 1;
            continue;
        };
        outcome.deliveries += receipts.count;
        outcome.failed_clients += u64::from(receipts.failed);
        for (slot, &at) in receipts.received.iter().enumerate() {
            if at != 0 {
                last[slot] = last[slot].max(at);
                first[slot] = first[slot].min(at);
                stamped[slot] = receipts.stamped[slot];
            }
        }
    }
    let (client_after, server_after) = (crate::procfs::cpu_time("self")?, server.cpu_time()?);
    outcome.client_cpu = client_after.saturating_sub(client_before);
    outcome.server_cpu = server_after.saturating_sub(server_before);
    drain.abort();
    let mut latest = 0;
    for slot in 0..messages {
        if last[slot] != 0 {
            outcome
                .last_ns
                .saturating_record(last[slot].saturating_sub(stamped[slot]));
            outcome
                .first_ns
                .saturating_record(first[slot].saturating_sub(stamped[slot]));
            latest = latest.max(last[slot]);
        }
    }
    outcome.span = Duration::from_nanos(latest.saturating_sub(started));
    Ok(outcome)
}
