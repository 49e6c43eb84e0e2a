//! End-to-end benchmarks of pkg-router over real sockets, against baselines measured in the same
//! run: a bare tokio-tungstenite server (the floor), jsonrpsee (the closest Rust peer) and
//! socketioxide (the most used Rust WebSocket framework with rooms).
//!
//! Every server runs in a child process of its own (`pkg-router-bench serve <kind>`) on
//! 127.0.0.1, so its memory and CPU time are measured apart from the client's. The scenarios:
//!
//! - **closed loop**: N connections, each sending a CREATE_BOOK request and awaiting its response
//!   before the next; every round trip goes into an HdrHistogram;
//! - **open loop**: the same requests sent at a fixed total rate whatever the server does,
//!   latency counted from the scheduled send time;
//! - **fan-out**: C subscribed clients, the server broadcasts M messages back to back; per
//!   message the time from the broadcast call to the last client's receipt, and every delivery
//!   counted;
//! - **memory**: the server's resident memory with no connection, with N idle (authenticated)
//!   connections, and after one request on each;
//! - **scale** ([`scale`], its own command): N idle authenticated connections on one server
//!   from several client processes and loopback source addresses, the accept rate, the memory
//!   per connection, and one broadcast's time to reach all N.
//!
//! [`run`] executes a [`Plan`] and returns a [`Report`]; the binary's `all` and `smoke`
//! commands are [`Plan::full`] and [`Plan::smoke`].
#![forbid(unsafe_code)]

pub mod books;
mod child;
mod client;
pub mod client_cost;
pub mod cluster;
mod fanout;
mod memory;
mod procfs;
mod proto;
mod report;
pub mod scale;
mod servers;

use std::path::PathBuf;
use std::time::Duration;

/// Any failure of the harness.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// pkg-router over its axum transport: JWT first-frame auth, roles, schema validation.
    PkgRouter,
    /// A bare tokio-tungstenite server that parses the envelope and writes the response.
    Floor,
    /// jsonrpsee's WebSocket server with an equivalent method and a subscription.
    Jsonrpsee,
    /// socketioxide (Socket.IO v5 over Engine.IO v4, WebSocket transport): an equivalent event
    /// answered through its ack, and a room broadcast for the fan-out.
    Socketioxide,
    /// The pkg-router server of [`Kind::PkgRouter`], its clients on `?format=protobuf`: the same
    /// CREATE_BOOK as a protobuf `Request`, answered in binary frames (load runs only).
    PkgRouterProtobuf,
}

impl Kind {
    /// Every server, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::PkgRouter,
        Kind::Floor,
        Kind::Jsonrpsee,
        Kind::Socketioxide,
        Kind::PkgRouterProtobuf,
    ];

    /// The name used on the command line and in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::PkgRouter => "pkg-router",
            Kind::Floor => "floor",
            Kind::Jsonrpsee => "jsonrpsee",
            Kind::Socketioxide => "socketioxide",
            Kind::PkgRouterProtobuf => "pkg-router-protobuf",
        }
    }

    /// The kind named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether the server takes a first-frame auth handshake.
    pub(crate) fn requires_auth(self) -> bool {
        matches!(self, Kind::PkgRouter | Kind::PkgRouterProtobuf)
    }

    /// Whether the fan-out runs measure it (the floor cannot broadcast; the protobuf clients
    /// would measure the JSON run's server again).
    pub(crate) fn broadcasts(self) -> bool {
        matches!(self, Kind::PkgRouter | Kind::Jsonrpsee | Kind::Socketioxide)
    }

    /// Whether the memory run measures it (the protobuf kind is the JSON kind's server).
    pub(crate) fn measures_memory(self) -> bool {
        self != Kind::PkgRouterProtobuf
    }
}

/// The total rate of the open-loop run.
#[derive(Clone, Copy, Debug)]
pub enum OpenLoopRate {
    /// Requests per second.
    Fixed(f64),
    /// This fraction of the floor server's closed-loop throughput in the same run (so the rate
    /// follows the machine's speed of the day).
    FractionOfFloor(f64),
}

/// What to run, and how big.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The executable that serves (`<exe> serve <kind> --port 0`): this binary.
    pub server_exe: PathBuf,
    /// A command line the server runs under (a profiler: `valgrind --tool=callgrind`,
    /// `heaptrack`); empty for none. Its memory and CPU figures are then the wrapper's.
    pub server_wrapper: Vec<String>,
    /// Worker threads of each server's runtime (`None`: tokio's default, one per CPU).
    pub server_threads: Option<usize>,
    /// The servers to measure.
    pub kinds: Vec<Kind>,
    /// Connections of the closed- and open-loop runs (0 skips them).
    pub connections: usize,
    /// Time before measuring starts (closed and open loop).
    pub warmup: Duration,
    /// Measured time of each closed- and open-loop run.
    pub duration: Duration,
    /// Closed and open loop: how many times each server runs (in rotation); the figures are
    /// over all rounds together.
    pub rounds: usize,
    /// Closed loop: stop after this many requests in all (no warm-up then, and the run lasts
    /// until they are done, at most 2 minutes).
    pub max_requests: Option<u64>,
    /// Open-loop rate; `None` skips the open-loop runs.
    pub open_loop: Option<OpenLoopRate>,
    /// Fan-out runs: subscribed clients of each.
    pub fanout_clients: Vec<usize>,
    /// Fan-out: messages broadcast in each run.
    pub fanout_messages: usize,
    /// Fan-out: how long the clients wait for every message.
    pub fanout_timeout: Duration,
    /// Memory run: idle connections (0 skips it).
    pub idle_connections: usize,
    /// Memory run: how long the server gets to settle before each reading.
    pub settle: Duration,
    /// Worker threads of the client's runtime.
    pub client_threads: usize,
}

impl Plan {
    /// The full run of the issue: 50 connections, three rounds of 5 s per server, open loop at
    /// half the floor's throughput, fan-out of 200 messages to 1 000 and 5 000 clients,
    /// 10 000 idle connections.
    #[must_use]
    pub fn full(server_exe: PathBuf) -> Self {
        Self {
            server_exe,
            server_wrapper: Vec::new(),
            server_threads: None,
            kinds: Kind::ALL.to_vec(),
            connections: 50,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            rounds: 3,
            max_requests: None,
            open_loop: Some(OpenLoopRate::FractionOfFloor(0.5)),
            fanout_clients: vec![1_000, 5_000],
            fanout_messages: 200,
            fanout_timeout: Duration::from_secs(120),
            idle_connections: 10_000,
            settle: Duration::from_millis(1500),
            client_threads: 2,
        }
    }

    /// A few seconds with tiny sizes: proves the harness works end to end.
    #[must_use]
    pub fn smoke(server_exe: PathBuf) -> Self {
        Self {
            server_exe,
            server_wrapper: Vec::new(),
            server_threads: None,
            kinds: Kind::ALL.to_vec(),
            connections: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(500),
            rounds: 1,
            max_requests: Some(200),
            open_loop: Some(OpenLoopRate::Fixed(200.0)),
            fanout_clients: vec![20],
            fanout_messages: 10,
            fanout_timeout: Duration::from_secs(20),
            idle_connections: 50,
            settle: Duration::from_millis(200),
            client_threads: 2,
        }
    }
}

/// One closed- or open-loop run.
#[derive(Clone, Debug)]
pub struct LoadResult {
    /// The server.
    pub kind: Kind,
    /// Connections.
    pub connections: usize,
    /// Open loop: the requests per second offered.
    pub offered_rate: Option<f64>,
    /// Successful requests measured.
    pub requests: u64,
    /// Error responses.
    pub errors: u64,
    /// Requests never answered (open loop).
    pub lost: u64,
    /// Length of the measured window, seconds.
    pub seconds: f64,
    /// Successful requests per second, all rounds together.
    pub throughput: f64,
    /// Successful requests per second of each round.
    pub rounds: Vec<f64>,
    /// Round-trip percentiles and maximum, microseconds: p50, p90, p99, p99.9, max.
    pub latency_us: [f64; 5],
    /// The client's CPU time in the window, seconds.
    pub client_cpu_s: f64,
    /// The server's CPU time in the window, seconds.
    pub server_cpu_s: f64,
}

/// One fan-out run.
#[derive(Clone, Debug)]
pub struct FanoutResult {
    /// The server.
    pub kind: Kind,
    /// Subscribed clients (C).
    pub clients: usize,
    /// Messages broadcast (M).
    pub messages: usize,
    /// Messages received, all clients together.
    pub deliveries: u64,
    /// C x M.
    pub expected: u64,
    /// Clients that stopped (error, close or time-out) before receiving everything.
    pub failed_clients: u64,
    /// Broadcast call to last client's receipt, per message, milliseconds: p50, p99, max.
    pub last_ms: [f64; 3],
    /// Broadcast call to the first client's receipt, per message, median, milliseconds.
    pub first_p50_ms: f64,
    /// From the first broadcast call to the last receipt of all, seconds.
    pub seconds: f64,
    /// Deliveries per second over that time.
    pub rate: f64,
    /// The server's CPU time over the run, seconds.
    pub server_cpu_s: f64,
    /// The client's CPU time over the run, seconds.
    pub client_cpu_s: f64,
}

/// One memory run.
#[derive(Clone, Debug)]
pub struct MemoryResult {
    /// The server.
    pub kind: Kind,
    /// Connections held.
    pub connections: usize,
    /// Server RSS with no connection, KiB.
    pub before_kib: u64,
    /// Server RSS with the connections idle, KiB.
    pub idle_kib: u64,
    /// Server RSS after one request on each connection, KiB.
    pub after_request_kib: u64,
}

impl MemoryResult {
    /// Resident bytes per idle connection.
    #[must_use]
    pub fn idle_bytes_per_connection(&self) -> f64 {
        per_connection(self.idle_kib, self.before_kib, self.connections)
    }

    /// Resident bytes per connection after one request each.
    #[must_use]
    pub fn used_bytes_per_connection(&self) -> f64 {
        per_connection(self.after_request_kib, self.before_kib, self.connections)
    }
}

fn per_connection(with: u64, without: u64, connections: usize) -> f64 {
    (with as f64 - without as f64) * 1024.0 / connections.max(1) as f64
}

/// Everything one run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The machine, one line.
    pub machine: String,
    /// The day of the run (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// The plan's sizes, one line.
    pub sizes: String,
    /// Closed-loop runs.
    pub closed_loop: Vec<LoadResult>,
    /// Open-loop runs.
    pub open_loop: Vec<LoadResult>,
    /// Fan-out runs.
    pub fanout: Vec<FanoutResult>,
    /// Memory runs.
    pub memory: Vec<MemoryResult>,
    /// Scenarios that failed, with the reason (their rows are missing).
    pub failures: Vec<String>,
}

impl Report {
    /// The report as markdown: tables, ratios to the baselines, targets met or missed.
    #[must_use]
    pub fn markdown(&self, command: &str) -> String {
        report::markdown(self, command)
    }
}

/// Serves `kind` on 127.0.0.1:`port` (0: a free port) until standard input closes or
/// `max_lifetime` passes, on `threads` runtime workers (`None`: one per CPU); prints
/// `LISTENING <port>` once it accepts connections.
///
/// # Errors
///
/// When the server cannot start.
pub fn serve(
    kind: Kind,
    port: u16,
    max_lifetime: Duration,
    threads: Option<usize>,
) -> Result<(), BenchError> {
    servers::serve(kind, port, max_lifetime, threads)
}

/// Runs `plan` and returns what it measured; progress goes to standard error.
///
/// A scenario that fails is listed in [`Report::failures`] and the run goes on.
///
/// # Errors
///
/// When the client's runtime cannot start or the descriptor limit cannot be raised.
pub fn run(plan: &Plan) -> Result<Report, BenchError> {
    rlimit::increase_nofile_limit(u64::MAX)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads.max(1))
        .enable_all()
        .build()?;
    let mut report = Report {
        machine: procfs::machine(),
        date: procfs::today(),
        sizes: report::sizes(plan),
        ..Report::default()
    };
    runtime.block_on(drive(plan, &mut report));
    Ok(report)
}

/// Logs a line of progress.
fn progress(line: &str) {
    eprintln!("[pkg-router-bench] {line}");
}

/// Runs `scenario` against a fresh server of `kind`; a failure lands in `report.failures`.
async fn with_server<T, F, Fut>(
    plan: &Plan,
    kind: Kind,
    what: &str,
    report: &mut Report,
    scenario: F,
) -> Option<T>
where
    F: FnOnce(child::ServerProcess) -> Fut,
    Fut: Future<Output = (child::ServerProcess, Result<T, BenchError>)>,
{
    let server = match child::ServerProcess::start(plan, kind).await {
        Ok(server) => server,
        Err(err) => {
            let failure = format!("{what} / {}: server did not start: {err}", kind.name());
            progress(&failure);
            report.failures.push(failure);
            return None;
        }
    };
    let (server, result) = scenario(server).await;
    server.stop().await;
    // Let the kernel reap the sockets of the last run before the next starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            let failure = format!("{what} / {}: {err}", kind.name());
            progress(&failure);
            report.failures.push(failure);
            None
        }
    }
}

fn load_result(
    kind: Kind,
    connections: usize,
    offered_rate: Option<f64>,
    outcome: &client::LoadOutcome,
) -> LoadResult {
    let h = &outcome.histogram;
    let us = |ns: u64| ns as f64 / 1_000.0;
    let seconds = outcome.window.as_secs_f64();
    LoadResult {
        kind,
        connections,
        offered_rate,
        requests: h.len(),
        errors: outcome.errors,
        lost: outcome.lost,
        seconds,
        throughput: h.len() as f64 / seconds.max(1e-9),
        rounds: Vec::new(),
        latency_us: [
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.9)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max()),
        ],
        client_cpu_s: outcome.client_cpu.as_secs_f64(),
        server_cpu_s: outcome.server_cpu.as_secs_f64(),
    }
}

/// Closed loop (`rate` `None`) or open loop at `rate`: `plan.rounds` rounds, each running every
/// kind once on a fresh server, the order rotating from round to round, so that a change in
/// the machine's background load falls on every server alike.
async fn load_rounds(
    plan: &Plan,
    kinds: &[Kind],
    rate: Option<f64>,
    shape: client::LoadShape,
    report: &mut Report,
) -> Vec<LoadResult> {
    let what = if rate.is_some() {
        "open loop"
    } else {
        "closed loop"
    };
    let mut merged: Vec<(Kind, Option<client::LoadOutcome>, Vec<f64>)> =
        kinds.iter().map(|&kind| (kind, None, Vec::new())).collect();
    let rounds = plan.rounds.max(1);
    for round in 0..rounds {
        for turn in 0..merged.len() {
            let slot = (turn + round) % merged.len();
            let kind = merged[slot].0;
            let label = format!("{what} round {}/{rounds}", round + 1);
            let outcome = with_server(plan, kind, &label, report, |server| async move {
                let result = match rate {
                    None => client::closed_loop(kind, &server, shape).await,
                    Some(rate) => client::open_loop(kind, &server, shape, rate).await,
                };
                (server, result)
            })
            .await;
            let Some(outcome) = outcome else { continue };
            let throughput =
                outcome.histogram.len() as f64 / outcome.window.as_secs_f64().max(1e-9);
            progress(&format!(
                "{label} {}: {throughput:.0} req/s, p99 {:.0} us",
                kind.name(),
                outcome.histogram.value_at_quantile(0.99) as f64 / 1e3
            ));
            let (_, total, per_round) = &mut merged[slot];
            per_round.push(throughput);
            match total {
                None => *total = Some(outcome),
                Some(total) => {
                    if let Err(err) = total.absorb(outcome) {
                        report
                            .failures
                            .push(format!("{label} {}: {err}", kind.name()));
                    }
                }
            }
        }
    }
    merged
        .into_iter()
        .filter_map(|(kind, total, rounds)| {
            total.map(|total| {
                let mut result = load_result(kind, plan.connections, rate, &total);
                result.rounds = rounds;
                result
            })
        })
        .collect()
}

async fn drive(plan: &Plan, report: &mut Report) {
    let shape = client::LoadShape {
        connections: plan.connections,
        warmup: plan.warmup,
        duration: plan.duration,
        max_requests: plan.max_requests,
    };
    // 1. Closed loop (none with 0 connections).
    let load_kinds: &[Kind] = if plan.connections == 0 {
        &[]
    } else {
        &plan.kinds
    };
    report.closed_loop = load_rounds(plan, load_kinds, None, shape, report).await;
    // 2. Open loop.
    if let Some(rate) = plan.open_loop {
        let rate = match rate {
            OpenLoopRate::Fixed(rate) => Some(rate),
            OpenLoopRate::FractionOfFloor(fraction) => report
                .closed_loop
                .iter()
                .find(|r| r.kind == Kind::Floor)
                .map(|floor| (floor.throughput * fraction).round()),
        };
        match rate {
            Some(rate) => {
                report.open_loop = load_rounds(plan, load_kinds, Some(rate), shape, report).await;
            }
            None => progress("open loop skipped: no floor throughput to take the rate from"),
        }
    }
    // 3. Fan-out.
    for &clients in &plan.fanout_clients {
        for &kind in plan.kinds.iter().filter(|kind| kind.broadcasts()) {
            let messages = plan.fanout_messages;
            let timeout = plan.fanout_timeout;
            let what = format!("fan-out to {clients}");
            let outcome = with_server(plan, kind, &what, report, |server| async move {
                let result = fanout::run(kind, &server, clients, messages, timeout).await;
                (server, result)
            })
            .await;
            if let Some(outcome) = outcome {
                let ms = |ns: u64| ns as f64 / 1e6;
                let seconds = outcome.span.as_secs_f64();
                let result = FanoutResult {
                    kind,
                    clients,
                    messages,
                    deliveries: outcome.deliveries,
                    expected: (clients * messages) as u64,
                    failed_clients: outcome.failed_clients,
                    last_ms: [
                        ms(outcome.last_ns.value_at_quantile(0.5)),
                        ms(outcome.last_ns.value_at_quantile(0.99)),
                        ms(outcome.last_ns.max()),
                    ],
                    first_p50_ms: ms(outcome.first_ns.value_at_quantile(0.5)),
                    seconds,
                    rate: outcome.deliveries as f64 / seconds.max(1e-9),
                    server_cpu_s: outcome.server_cpu.as_secs_f64(),
                    client_cpu_s: outcome.client_cpu.as_secs_f64(),
                };
                progress(&format!(
                    "fan-out {} to {clients}: {}/{} delivered, p99 {:.1} ms",
                    kind.name(),
                    result.deliveries,
                    result.expected,
                    result.last_ms[1]
                ));
                report.fanout.push(result);
            }
        }
    }
    // 4. Memory.
    if plan.idle_connections > 0 {
        let count = plan.idle_connections;
        let settle = plan.settle;
        for &kind in plan.kinds.iter().filter(|kind| kind.measures_memory()) {
            let outcome = with_server(plan, kind, "memory", report, |server| async move {
                let result = memory::run(kind, &server, count, settle).await;
                (server, result)
            })
            .await;
            if let Some(outcome) = outcome {
                let result = MemoryResult {
                    kind,
                    connections: count,
                    before_kib: outcome.before_kib,
                    idle_kib: outcome.idle_kib,
                    after_request_kib: outcome.after_request_kib,
                };
                progress(&format!(
                    "memory {}: {:.0} B per idle connection",
                    kind.name(),
                    result.idle_bytes_per_connection()
                ));
                report.memory.push(result);
            }
        }
    }
}
