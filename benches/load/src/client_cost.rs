//! The Rust client's own cost (`pkg-router-bench client-cost`): the CPU time this process
//! spends per request when the closed loop is made with `pkg_router::client::Client::call`,
//! against the harness's raw tokio-tungstenite closed loop, in the same run, against the same
//! pkg-router server child process.
//!
//! Both variants hold their connections for the whole run (N raw sockets, N `Client`s: the
//! server holds 2N, half of them idle at any time). A round makes the same number of
//! CREATE_BOOK requests on each of the N connections of one variant, one request in flight per
//! connection; a few warm-up rounds of both go first, then the measured repetitions alternate
//! the order (raw then client, client then raw, ...), so a change in the machine's background
//! load falls on both alike.
//!
//! Counted per round: this process's user and system CPU time from `/proc/self/stat` (every
//! thread: the two tokio workers, the timer and I/O driver they run, anything else the
//! process does in the window, which is nothing here), its live threads' on-CPU time from
//! `/proc/self/task/*/schedstat` (nanoseconds), the server's CPU time, the wall time, and every
//! round trip in a histogram.

use crate::client::{self as raw, Ws, duration_ns, histogram};
use crate::proto::{self, CREATE_BOOK, JWT_SECRET};
use crate::{BenchError, Kind, Plan, child, procfs, progress};
use hdrhistogram::Histogram;
use pkg_router::client::{CallError, Client};
use pkg_router::jwt::Claims;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// The two ways of making the closed loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// (a) The harness's raw tokio-tungstenite client: a `format!`ted frame, `send`, the
    /// response found by a substring scan for its id, never parsed.
    Raw,
    /// (b) `pkg_router::client::Client::call::<CreateBook, Book>`: the input serialized, the
    /// answer parsed and decoded into a `Book`.
    Client,
}

impl Variant {
    /// The name used on the command line and in the report.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Variant::Raw => "raw",
            Variant::Client => "client",
        }
    }

    /// The variant named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Variant::Raw, Variant::Client]
            .into_iter()
            .find(|v| v.name() == name)
    }
}

/// What `client-cost` runs.
#[derive(Clone, Debug)]
pub struct CostPlan {
    /// The executable that serves: this binary.
    pub server_exe: PathBuf,
    /// A command line the server runs under; empty for none.
    pub server_wrapper: Vec<String>,
    /// Worker threads of the server's runtime (`None`: one per CPU).
    pub server_threads: Option<usize>,
    /// Worker threads of this process's runtime.
    pub client_threads: usize,
    /// Connections of each variant.
    pub connections: usize,
    /// Requests of each round, all connections together (rounded down to a multiple of
    /// `connections`).
    pub requests: u64,
    /// Unmeasured rounds of each variant first.
    pub warmup_rounds: usize,
    /// Measured rounds of each variant.
    pub repetitions: usize,
    /// The variants to run (one alone: for profiling the process under callgrind or perf).
    pub variants: Vec<Variant>,
}

impl CostPlan {
    /// 50 connections, 20 000 requests a round, 2 warm-up rounds and 6 measured repetitions
    /// of each variant.
    #[must_use]
    pub fn new(server_exe: PathBuf) -> Self {
        Self {
            server_exe,
            server_wrapper: Vec::new(),
            server_threads: None,
            client_threads: 2,
            connections: 50,
            requests: 20_000,
            warmup_rounds: 2,
            repetitions: 6,
            variants: vec![Variant::Raw, Variant::Client],
        }
    }

    fn per_connection(&self) -> u64 {
        (self.requests / self.connections.max(1) as u64).max(1)
    }
}

/// One variant's measured rounds, added up.
#[derive(Debug)]
pub struct VariantCost {
    /// The variant.
    pub variant: Variant,
    /// Successful requests measured.
    pub requests: u64,
    /// Error answers.
    pub errors: u64,
    /// Wall time of the measured rounds, seconds.
    pub seconds: f64,
    /// This process's user CPU time, seconds (10 ms ticks).
    pub user_s: f64,
    /// This process's system CPU time, seconds (10 ms ticks).
    pub system_s: f64,
    /// This process's threads' on-CPU time from schedstat, seconds.
    pub sched_s: f64,
    /// The server's CPU time, seconds.
    pub server_s: f64,
    /// Round trips, nanoseconds.
    pub histogram: Histogram<u64>,
    /// Client CPU per request (user + system) of each round, microseconds.
    pub rounds_us: Vec<f64>,
}

impl VariantCost {
    fn new(variant: Variant) -> Result<Self, BenchError> {
        Ok(Self {
            variant,
            requests: 0,
            errors: 0,
            seconds: 0.0,
            user_s: 0.0,
            system_s: 0.0,
            sched_s: 0.0,
            server_s: 0.0,
            histogram: histogram()?,
            rounds_us: Vec::new(),
        })
    }

    fn per_request_us(&self, seconds: f64) -> f64 {
        seconds * 1e6 / self.requests.max(1) as f64
    }

    /// User + system CPU of this process per request, microseconds.
    #[must_use]
    pub fn cpu_us(&self) -> f64 {
        self.per_request_us(self.user_s + self.system_s)
    }

    /// Requests per second over the measured rounds.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
}

/// What `client-cost` measured.
#[derive(Debug)]
pub struct CostReport {
    /// The machine, one line.
    pub machine: String,
    /// The day of the run (UTC).
    pub date: String,
    /// The plan.
    pub plan: CostPlan,
    /// Each variant run, in the plan's order.
    pub variants: Vec<VariantCost>,
    /// Client CPU per request (schedstat, finer than the ticks), client / raw, of each
    /// repetition (when both variants run).
    pub pair_ratios: Vec<f64>,
}

/// The CREATE_BOOK input as a typed caller holds it (`proto::BOOK_JSON` serialized).
#[derive(Serialize)]
struct CreateBookInput {
    title: String,
    author_id: i64,
    isbn: Option<String>,
}

/// The created book as a typed caller decodes it.
#[derive(Debug, Deserialize)]
struct CreatedBook {
    #[allow(dead_code)] // decoded as a caller would; the figures are about the decoding
    id: i64,
    #[allow(dead_code)]
    title: String,
    #[allow(dead_code)]
    author_id: i64,
    #[allow(dead_code)]
    isbn: Option<String>,
}

/// The connections of both variants.
struct Connections {
    raw: Vec<Ws>,
    clients: Vec<Client>,
}

/// One round's figures.
struct Round {
    requests: u64,
    errors: u64,
    wall: Duration,
    user: Duration,
    system: Duration,
    sched_ns: u64,
    server: Duration,
    histogram: Histogram<u64>,
}

/// Runs `plan`: starts the server, connects, warms up, measures.
///
/// # Errors
///
/// When the runtime or the server cannot start, a connection fails or a call fails other than
/// by an error answer.
pub fn run(plan: &CostPlan) -> Result<CostReport, BenchError> {
    rlimit::increase_nofile_limit(u64::MAX)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(drive(plan))
}

async fn drive(plan: &CostPlan) -> Result<CostReport, BenchError> {
    let mut server_plan = Plan::smoke(plan.server_exe.clone());
    server_plan.server_wrapper = plan.server_wrapper.clone();
    server_plan.server_threads = plan.server_threads;
    let server = child::ServerProcess::start(&server_plan, Kind::PkgRouter).await?;
    let result = measure(plan, &server).await;
    server.stop().await;
    result
}

async fn measure(plan: &CostPlan, server: &child::ServerProcess) -> Result<CostReport, BenchError> {
    let mut connections = Connections {
        raw: Vec::new(),
        clients: Vec::new(),
    };
    for conn in 0..plan.connections {
        if plan.variants.contains(&Variant::Raw) {
            connections
                .raw
                .push(raw::connect(Kind::PkgRouter, server.addr, conn, &["create-book"]).await?);
        }
        if plan.variants.contains(&Variant::Client) {
            let token = Claims::new(format!("bench-client-{conn}"))
                .realm_roles(["create-book"])
                .expires_in(Duration::from_secs(3600))
                .sign_hs256(JWT_SECRET)?;
            let client = Client::connect(format!("ws://{}/web", server.addr))
                .token(token)
                .await?;
            connections.clients.push(client);
        }
    }
    let input = CreateBookInput {
        title: "The Pragmatic Programmer".into(),
        author_id: 1,
        isbn: Some("978-0135957059".into()),
    };
    debug_assert_eq!(
        serde_json::to_string(&input).ok().as_deref(),
        Some(proto::BOOK_JSON)
    );
    let input = std::sync::Arc::new(input);
    let per_connection = plan.per_connection();
    let mut seq_base = 0u64;
    for warmup in 0..plan.warmup_rounds {
        for &variant in &plan.variants {
            let round = run_round(
                variant,
                &mut connections,
                &input,
                per_connection,
                seq_base,
                server,
            )
            .await?;
            seq_base += per_connection;
            progress(&format!(
                "client-cost warm-up {}/{} {}: {:.0} req/s",
                warmup + 1,
                plan.warmup_rounds,
                variant.name(),
                round.requests as f64 / round.wall.as_secs_f64().max(1e-9)
            ));
        }
    }
    let mut totals: Vec<VariantCost> = plan
        .variants
        .iter()
        .map(|&v| VariantCost::new(v))
        .collect::<Result<_, _>>()?;
    let mut pair_ratios = Vec::new();
    for rep in 0..plan.repetitions.max(1) {
        let mut order: Vec<usize> = (0..totals.len()).collect();
        if rep % 2 == 1 {
            order.reverse();
        }
        let mut this_rep = vec![0.0; totals.len()];
        for slot in order {
            let variant = totals[slot].variant;
            let round = run_round(
                variant,
                &mut connections,
                &input,
                per_connection,
                seq_base,
                server,
            )
            .await?;
            seq_base += per_connection;
            let total = &mut totals[slot];
            let cpu_us =
                (round.user + round.system).as_secs_f64() * 1e6 / round.requests.max(1) as f64;
            let sched_us = round.sched_ns as f64 / 1e3 / round.requests.max(1) as f64;
            progress(&format!(
                "client-cost repetition {}/{} {}: {:.0} req/s, client CPU {cpu_us:.2} us/request (schedstat {sched_us:.2}), p99 {:.0} us",
                rep + 1,
                plan.repetitions.max(1),
                variant.name(),
                round.requests as f64 / round.wall.as_secs_f64().max(1e-9),
                round.histogram.value_at_quantile(0.99) as f64 / 1e3,
            ));
            this_rep[slot] = sched_us;
            total.rounds_us.push(cpu_us);
            total.requests += round.requests;
            total.errors += round.errors;
            total.seconds += round.wall.as_secs_f64();
            total.user_s += round.user.as_secs_f64();
            total.system_s += round.system.as_secs_f64();
            total.sched_s += round.sched_ns as f64 / 1e9;
            total.server_s += round.server.as_secs_f64();
            total.histogram.add(round.histogram)?;
        }
        if let (Some(raw_at), Some(client_at)) = (
            plan.variants.iter().position(|&v| v == Variant::Raw),
            plan.variants.iter().position(|&v| v == Variant::Client),
        ) && this_rep[raw_at] > 0.0
        {
            pair_ratios.push(this_rep[client_at] / this_rep[raw_at]);
        }
    }
    for ws in &mut connections.raw {
        let _ = ws.close(None).await;
    }
    for client in &connections.clients {
        client.close().await;
    }
    Ok(CostReport {
        machine: procfs::machine(),
        date: procfs::today(),
        plan: plan.clone(),
        variants: totals,
        pair_ratios,
    })
}

/// `per_connection` requests on every connection of `variant`, one in flight per connection.
async fn run_round(
    variant: Variant,
    connections: &mut Connections,
    input: &std::sync::Arc<CreateBookInput>,
    per_connection: u64,
    seq_base: u64,
    server: &child::ServerProcess,
) -> Result<Round, BenchError> {
    let (user_before, system_before) = procfs::cpu_times("self")?;
    let sched_before = procfs::self_schedstat_ns()?;
    let server_before = server.cpu_time()?;
    let start = Instant::now();
    let mut histograms = Vec::new();
    let mut errors = 0;
    match variant {
        Variant::Raw => {
            let mut tasks = Vec::new();
            for (conn, mut ws) in std::mem::take(&mut connections.raw).into_iter().enumerate() {
                tasks.push(tokio::spawn(async move {
                    let mut histogram = histogram()?;
                    let mut errors = 0u64;
                    for seq in seq_base..seq_base + per_connection {
                        let id = proto::request_id(conn, seq);
                        let sent = Instant::now();
                        let reply =
                            raw::call(&mut ws, raw::create_book_frame(Kind::PkgRouter, &id), &id)
                                .await?;
                        if raw::is_success(Kind::PkgRouter, &reply) {
                            histogram.saturating_record(duration_ns(sent.elapsed()));
                        } else {
                            errors += 1;
                        }
                    }
                    Ok::<_, BenchError>((ws, histogram, errors))
                }));
            }
            for task in tasks {
                let (ws, histogram, e) = task.await??;
                connections.raw.push(ws);
                histograms.push(histogram);
                errors += e;
            }
        }
        Variant::Client => {
            let mut tasks = Vec::new();
            for client in &connections.clients {
                let client = client.clone();
                let input = std::sync::Arc::clone(input);
                tasks.push(tokio::spawn(async move {
                    let mut histogram = histogram()?;
                    let mut errors = 0u64;
                    for _ in 0..per_connection {
                        let sent = Instant::now();
                        match client.call::<_, CreatedBook>(CREATE_BOOK, &*input).await {
                            Ok(book) => {
                                std::hint::black_box(book);
                                histogram.saturating_record(duration_ns(sent.elapsed()));
                            }
                            Err(CallError::Rejected { .. }) => errors += 1,
                            Err(err) => return Err(BenchError::from(err)),
                        }
                    }
                    Ok::<_, BenchError>((histogram, errors))
                }));
            }
            for task in tasks {
                let (histogram, e) = task.await??;
                histograms.push(histogram);
                errors += e;
            }
        }
    }
    let wall = start.elapsed();
    let (user_after, system_after) = procfs::cpu_times("self")?;
    let sched_after = procfs::self_schedstat_ns()?;
    let server_after = server.cpu_time()?;
    let mut all = histogram()?;
    for h in histograms {
        all.add(h)?;
    }
    Ok(Round {
        requests: all.len(),
        errors,
        wall,
        user: user_after.saturating_sub(user_before),
        system: system_after.saturating_sub(system_before),
        sched_ns: sched_after.saturating_sub(sched_before),
        server: server_after.saturating_sub(server_before),
        histogram: all,
    })
}

impl CostReport {
    /// The report as markdown.
    #[must_use]
    pub fn markdown(&self, command: &str) -> String {
        let mut out = String::new();
        let plan = &self.plan;
        let _ = writeln!(
            out,
            "# Client cost: `pkg_router::client::Client` vs the raw tokio-tungstenite client\n"
        );
        let _ = writeln!(out, "- Command: `{command}`");
        let _ = writeln!(out, "- Machine: {}; date {}", self.machine, self.date);
        let _ = writeln!(
            out,
            "- Sizes: one pkg-router server (child process, {} runtime threads), {} connections per variant, {} requests per round ({} per connection, one in flight each), {} warm-up round(s) and {} measured round(s) of each variant, order alternating; client runtime {} threads\n",
            plan.server_threads
                .map_or_else(|| "one per CPU".to_owned(), |t| t.to_string()),
            plan.connections,
            plan.per_connection() * plan.connections as u64,
            plan.per_connection(),
            plan.warmup_rounds,
            plan.repetitions.max(1),
            plan.client_threads,
        );
        let raw = self.variants.iter().find(|v| v.variant == Variant::Raw);
        let _ = writeln!(
            out,
            "| variant | requests | errors | client CPU per request (user + sys) | user | sys | schedstat | vs raw | server CPU per request | req/s | p50 us | p99 us |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for v in &self.variants {
            let vs_raw = raw.map_or_else(
                || "-".to_owned(),
                |r| format!("{:.2}x", v.cpu_us() / r.cpu_us().max(1e-9)),
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} us | {:.2} us | {:.2} us | {:.2} us | {vs_raw} | {:.2} us | {:.0} | {:.0} | {:.0} |",
                v.variant.name(),
                v.requests,
                v.errors,
                v.cpu_us(),
                v.per_request_us(v.user_s),
                v.per_request_us(v.system_s),
                v.per_request_us(v.sched_s),
                v.per_request_us(v.server_s),
                v.throughput(),
                v.histogram.value_at_quantile(0.5) as f64 / 1e3,
                v.histogram.value_at_quantile(0.99) as f64 / 1e3,
            );
        }
        if let (Some(raw), Some(client)) = (
            raw,
            self.variants.iter().find(|v| v.variant == Variant::Client),
        ) {
            let ratio = |a: f64, b: f64| a / b.max(1e-12);
            let mut pairs = self.pair_ratios.clone();
            pairs.sort_by(f64::total_cmp);
            let median = pairs.get(pairs.len() / 2).copied().unwrap_or(0.0);
            let shown: Vec<String> = self.pair_ratios.iter().map(|r| format!("{r:.2}")).collect();
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "- Client CPU per request, client / raw: **{:.2}x** (user + sys; target <= 1.2x); user only {:.2}x, sys only {:.2}x, schedstat {:.2}x; per repetition (schedstat) {} (median {median:.2})",
                ratio(client.cpu_us(), raw.cpu_us()),
                ratio(client.user_s, raw.user_s),
                ratio(client.system_s, raw.system_s),
                ratio(client.sched_s, raw.sched_s),
                shown.join(" / "),
            );
            let _ = writeln!(
                out,
                "- Throughput client / raw: {:.2}x; p50 {:.2}x; p99 {:.2}x; server CPU per request {:.2}x",
                ratio(client.throughput(), raw.throughput()),
                ratio(
                    client.histogram.value_at_quantile(0.5) as f64,
                    raw.histogram.value_at_quantile(0.5) as f64
                ),
                ratio(
                    client.histogram.value_at_quantile(0.99) as f64,
                    raw.histogram.value_at_quantile(0.99) as f64
                ),
                ratio(
                    client.per_request_us(client.server_s),
                    raw.per_request_us(raw.server_s)
                ),
            );
        }
        out
    }
}
