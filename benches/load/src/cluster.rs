//! Several nodes joined by Redis (`pkg-router-redis`), against one node, in the same run:
//!
//! - **fan-out**: C clients spread round-robin over N nodes (1 or 3), M broadcasts made back to
//!   back on node 0 (each stamped with its wall-clock time); completeness, deliveries/s and the
//!   per-message time from the broadcast call to the last client's receipt;
//! - **publish cost**: process CPU per broadcast with no connection anywhere, through a plain
//!   hub and through the Redis backend (encoding, queueing, the pipelined PUBLISH);
//! - **rate limit**: one client's sequential requests with the rate limit counted locally and
//!   in Redis (one Lua script per request).
//!
//! Nodes, clients and the publisher share this process (a `redis-server` started for the run
//! is the only other one): the figures are ratios between configurations measured alike.

use crate::BenchError;
use crate::client::histogram;
use crate::procfs;
use crate::proto::{number_after, wall_ns};
use futures_util::{SinkExt, StreamExt};
use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, RateLimit, WsConfig};
use pkg_router::{HandlerError, Hub, Principal, Router};
use pkg_router_redis::test_server::RedisServer;
use pkg_router_redis::{BackendState, RedisCluster, RedisConfig};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// What to run.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    /// Fan-out client counts.
    pub clients: Vec<usize>,
    /// Broadcasts per fan-out run.
    pub messages: usize,
    /// Sequential requests per rate-limit round.
    pub requests: usize,
    /// Rounds of each configuration, alternated.
    pub rounds: usize,
}

impl Default for ClusterPlan {
    fn default() -> Self {
        Self {
            clients: vec![100, 1_000],
            messages: 100,
            requests: 2_000,
            rounds: 3,
        }
    }
}

/// Any token is a principal of that name.
struct Names;

impl Authenticator for Names {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    }
}

async fn ping() -> Result<&'static str, HandlerError> {
    Ok("pong")
}

struct Node {
    hub: Hub,
    cluster: Option<RedisCluster>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn redis_config(url: &str, prefix: &str) -> Result<RedisConfig, BenchError> {
    Ok(RedisConfig::new(url)?.prefix(prefix))
}

async fn node(cluster: Option<RedisCluster>, ws: WsConfig) -> Result<Node, BenchError> {
    let hub = match &cluster {
        Some(cluster) => Hub::with_backend(cluster.backend()),
        None => Hub::new(),
    };
    let router = Router::builder()
        .hub(hub.clone())
        .handler(1, ping)
        .build()?;
    let mut endpoint = Endpoint::new(router, ws).with_authenticator(Names);
    if let Some(cluster) = &cluster {
        endpoint = endpoint.with_shared_limits(cluster.limits());
    }
    let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serve = pkg_router::axum::serve(listener, app, hub.clone())
        .with_shutdown_signal(std::future::pending());
    let task = tokio::spawn(async move {
        let _ = serve.await;
    });
    Ok(Node {
        hub,
        cluster,
        addr,
        task,
    })
}

fn ws_config() -> WsConfig {
    let mut ws = WsConfig::default();
    ws.rate_limit = None;
    ws.max_connections_per_principal = usize::MAX;
    ws.outbound_queue = ws.outbound_queue.max(1_024);
    ws
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn login(addr: SocketAddr, name: &str) -> Result<Ws, BenchError> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/web")).await?;
    let auth = format!(r#"{{"type":"auth","token":"Bearer {name}"}}"#);
    ws.send(Message::text(auth)).await?;
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.contains("auth_ok") => Ok(ws),
        other => Err(format!("login refused: {other:?}").into()),
    }
}

async fn until_up(nodes: &[Node]) -> Result<(), BenchError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nodes.iter().all(|n| {
        n.cluster
            .as_ref()
            .is_none_or(|c| c.health().state == BackendState::Up)
    }) {
        if Instant::now() > deadline {
            return Err("the cluster did not come up".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// One fan-out run's outcome.
struct Fanout {
    /// Process CPU (nodes and clients) per broadcast, us.
    cpu_us: f64,
    complete: f64,
    deliveries_per_s: f64,
    p99_last_ms: f64,
}

async fn fanout(
    url: &str,
    nodes: usize,
    clients: usize,
    messages: usize,
) -> Result<Fanout, BenchError> {
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut running = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        let cluster = RedisCluster::new(redis_config(url, &prefix)?)?;
        running.push(node(Some(cluster), ws_config()).await?);
    }
    until_up(&running).await?;
    let mut sockets = Vec::with_capacity(clients);
    for n in 0..clients {
        sockets.push(login(running[n % nodes].addr, &format!("c{n}")).await?);
    }
    // auth_ok is sent before the hub registers the connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while running
        .iter()
        .map(|n| n.hub.connection_count())
        .sum::<usize>()
        < clients
    {
        if Instant::now() > deadline {
            return Err("not every client registered".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut readers = Vec::with_capacity(clients);
    for mut ws in sockets {
        readers.push(tokio::spawn(async move {
            // Per message: (stamp, receipt), 0 when not received.
            let mut got = vec![(0u64, 0u64); messages];
            let mut count = 0;
            while count < messages {
                let Ok(Some(Ok(Message::Text(text)))) =
                    tokio::time::timeout_at(deadline, ws.next()).await
                else {
                    break;
                };
                let now = wall_ns();
                let (Some(seq), Some(t)) = (
                    number_after(&text, r#""seq":"#),
                    number_after(&text, r#""t":"#),
                ) else {
                    continue;
                };
                if let Some(slot) = got.get_mut(usize::try_from(seq).unwrap_or(usize::MAX))
                    && slot.1 == 0
                {
                    *slot = (t, now);
                    count += 1;
                }
            }
            got
        }));
    }
    let cpu_before = procfs::cpu_time("self")?;
    let started = wall_ns();
    for seq in 0..messages {
        let payload = serde_json::json!({"seq": seq, "t": wall_ns()});
        running[0].hub.broadcast(100u32, &payload)?;
        // Back to back, but let the runtime's other tasks run between calls.
        tokio::task::yield_now().await;
    }
    let mut last = vec![0u64; messages];
    let mut stamp = vec![0u64; messages];
    let mut deliveries = 0u64;
    for reader in readers {
        for (slot, (t, at)) in reader.await?.into_iter().enumerate() {
            if at != 0 {
                deliveries += 1;
                last[slot] = last[slot].max(at);
                stamp[slot] = t;
            }
        }
    }
    let cpu = procfs::cpu_time("self")?.saturating_sub(cpu_before);
    let mut hist = histogram()?;
    let mut latest = started;
    for (at, t) in last.iter().zip(&stamp) {
        if *at != 0 {
            hist.saturating_record(at.saturating_sub(*t));
            latest = latest.max(*at);
        }
    }
    let span = Duration::from_nanos(latest.saturating_sub(started)).as_secs_f64();
    Ok(Fanout {
        cpu_us: cpu.as_secs_f64() * 1e6 / messages as f64,
        complete: deliveries as f64 / (clients * messages) as f64,
        deliveries_per_s: deliveries as f64 / span.max(1e-9),
        p99_last_ms: hist.value_at_quantile(0.99) as f64 / 1e6,
    })
}

/// Process CPU per broadcast (us) with no connection: a plain hub, or through Redis (waiting
/// until the publisher has sent everything).
async fn publish_cost(url: Option<&str>, broadcasts: u64) -> Result<f64, BenchError> {
    let cluster = match url {
        Some(url) => Some(RedisCluster::new(
            redis_config(url, "bench-publish")?
                // Room for every broadcast: the cost of sending, not of dropping, is measured.
                .publish_queue(usize::try_from(broadcasts).unwrap_or(usize::MAX))
                .max_publish_delay(Duration::from_secs(60)),
        )?),
        None => None,
    };
    let running = [node(cluster, ws_config()).await?];
    until_up(&running).await?;
    let hub = &running[0].hub;
    let before = procfs::cpu_time("self")?;
    for seq in 0..broadcasts {
        hub.broadcast(100u32, &serde_json::json!({"seq": seq, "t": 0}))?;
        if seq % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
    if let Some(cluster) = &running[0].cluster {
        let deadline = Instant::now() + Duration::from_secs(60);
        while cluster.health().published + cluster.health().dropped < broadcasts {
            if Instant::now() > deadline {
                return Err("the publisher did not drain".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if cluster.health().dropped > 0 {
            return Err(format!("{} broadcasts dropped", cluster.health().dropped).into());
        }
    }
    let cpu = procfs::cpu_time("self")?.saturating_sub(before);
    Ok(cpu.as_secs_f64() * 1e6 / broadcasts as f64)
}

/// Mean round trip (us) of `requests` sequential requests of one client, the rate limit
/// counted locally or in Redis.
async fn rate_round(url: &str, shared: bool, requests: usize) -> Result<f64, BenchError> {
    let mut ws_settings = ws_config();
    // Never refuses: the check's cost is measured, not its verdict.
    ws_settings.rate_limit = Some(RateLimit::new(u32::MAX, Duration::from_secs(1)));
    let config = redis_config(url, "bench-rate")?.share_rate_limit(shared);
    let running = node(Some(RedisCluster::new(config)?), ws_settings).await?;
    until_up(std::slice::from_ref(&running)).await?;
    let mut ws = login(running.addr, "rita").await?;
    let started = Instant::now();
    for n in 0..requests {
        let id = format!("00000000-0000-0000-0000-{n:012}");
        let frame = format!(r#"{{"pkg_id":1,"req_id":"{id}","data":{{}}}}"#);
        ws.send(Message::text(frame)).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.contains(&id) => {
                    if text.contains("rate_limited") {
                        return Err("rate limited".into());
                    }
                    break;
                }
                Some(Ok(_)) => {}
                other => return Err(format!("connection ended: {other:?}").into()),
            }
        }
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / requests as f64)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs `plan` against a throwaway `redis-server`; returns a markdown report.
///
/// # Errors
///
/// When `redis-server` cannot start or a run fails.
pub fn run(plan: &ClusterPlan) -> Result<String, BenchError> {
    let redis = RedisServer::start()?;
    let url = redis.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _ = rlimit::increase_nofile_limit(65_536);
    runtime.block_on(async {
        let mut out = String::new();
        writeln!(
            out,
            "Command: `cargo run --release -p pkg-router-bench -- cluster --fanout {} --messages {} --requests {} --rounds {}`\n",
            plan.clients.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
            plan.messages,
            plan.requests,
            plan.rounds
        )?;
        writeln!(out, "Machine: {}; {}.\n", procfs::machine(), procfs::today())?;
        writeln!(out, "### Fan-out: 3 nodes against 1 (medians of {} rounds)\n", plan.rounds)?;
        writeln!(out, "| C | M | nodes | complete | deliveries/s | last-receipt p99 | p99 ratio 3/1 | deliveries/s ratio 3/1 | process CPU per broadcast | CPU ratio 3/1 |")?;
        writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        for &clients in &plan.clients {
            let mut results: [Vec<Fanout>; 2] = [Vec::new(), Vec::new()];
            for _ in 0..plan.rounds {
                for (i, nodes) in [1, 3].into_iter().enumerate() {
                    results[i].push(fanout(&url, nodes, clients, plan.messages).await?);
                }
            }
            let summary = |runs: &[Fanout]| {
                (
                    runs.iter().map(|r| r.complete).fold(1.0, f64::min),
                    median(runs.iter().map(|r| r.deliveries_per_s).collect()),
                    median(runs.iter().map(|r| r.p99_last_ms).collect()),
                    median(runs.iter().map(|r| r.cpu_us).collect()),
                )
            };
            let one = summary(&results[0]);
            let three = summary(&results[1]);
            for (nodes, (complete, rate, p99, cpu)) in [(1, one), (3, three)] {
                let (ratios, cpu_ratio) = if nodes == 3 {
                    (
                        format!("**{:.2}x** | {:.2}x", p99 / one.2, rate / one.1),
                        format!("{:.2}x", cpu / one.3),
                    )
                } else {
                    ("1.00x | 1.00x".to_owned(), "1.00x".to_owned())
                };
                writeln!(
                    out,
                    "| {clients} | {} | {nodes} | {:.4} | {:.0} | {p99:.1} ms | {ratios} | {cpu:.0} us | {cpu_ratio} |",
                    plan.messages, complete, rate
                )?;
            }
        }
        // Enough for the clock-tick resolution of /proc's CPU times (10 ms).
        let broadcasts = 200_000;
        let mut local = Vec::new();
        let mut redis_cost = Vec::new();
        for _ in 0..plan.rounds {
            local.push(publish_cost(None, broadcasts).await?);
            redis_cost.push(publish_cost(Some(&url), broadcasts).await?);
        }
        let (local, redis_cost) = (median(local), median(redis_cost));
        writeln!(out, "\n### Publish cost: process CPU per broadcast, no connection ({broadcasts} broadcasts, medians)\n")?;
        writeln!(out, "| hub | CPU per broadcast | ratio |")?;
        writeln!(out, "|---|---:|---:|")?;
        writeln!(out, "| plain (`Hub::new`) | {local:.2} us | 1.00x |")?;
        writeln!(out, "| Redis backend (encode, queue, pipelined PUBLISH) | {redis_cost:.2} us | {:.2}x |", redis_cost / local)?;
        let mut local = Vec::new();
        let mut shared = Vec::new();
        for _ in 0..plan.rounds {
            local.push(rate_round(&url, false, plan.requests).await?);
            shared.push(rate_round(&url, true, plan.requests).await?);
        }
        let (local, shared) = (median(local), median(shared));
        writeln!(out, "\n### Rate limit: one client's sequential requests ({} each, medians)\n", plan.requests)?;
        writeln!(out, "| rate limit | round trip | ratio | added per request |")?;
        writeln!(out, "|---|---:|---:|---:|")?;
        writeln!(out, "| local (governor) | {local:.1} us | 1.00x | |")?;
        writeln!(out, "| shared (one Lua script in Redis) | {shared:.1} us | **{:.2}x** | {:.1} us |", shared / local, shared - local)?;
        Ok(out)
    })
}
