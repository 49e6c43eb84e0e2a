//! Many idle connections on one node (issue 15, item 2): one pkg-router server process holds N
//! idle authenticated connections, opened from several client processes over several loopback
//! source addresses (127.0.0.2, 127.0.0.3, ...); then one broadcast, and the time until every
//! one of the N connections received it.
//!
//! Measured: the server's resident memory before and with the connections (KiB per
//! connection), the accept rate (authenticated connections per second over the ramp), the
//! descriptor limits seen, and for the broadcast every delivery counted (missing ones as a
//! number) and the time from the broadcast call (stamped in the push) to the last receipt.
//!
//! Limits are checked before anything starts: the server needs one descriptor per connection,
//! each client process one per connection it holds, and each source address one ephemeral
//! port per connection. A run that cannot fit is refused with the limit and the setting to
//! change. Every wait is bounded by the timeout; the children exit when this process closes
//! their input or dies (they are killed when dropped) and after a lifetime of their own.

use crate::child::ServerProcess;
use crate::client::{self, Ws};
use crate::proto::{self, BROADCAST, STATS};
use crate::{BenchError, Kind, Plan, procfs};
use futures_util::StreamExt;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Descriptors a process needs besides its connections (standard streams, the listener, the
/// runtime's epoll and eventfd, the trigger connection, /proc reads, a wrapper's own).
pub const FD_MARGIN: u64 = 64;

/// Ephemeral ports of a source address left to other sockets on it.
pub const PORT_MARGIN: u64 = 1_000;

/// The first source address: 127.0.0.2 (the server listens on 127.0.0.1).
const FIRST_SOURCE: u8 = 2;

/// Source addresses available after it: 127.0.0.2 to 127.0.0.254.
pub const MAX_SOURCES: usize = 253;

/// The longest `--timeout` (and settle time) taken: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Connections each client process opens at once.
const CONNECT_CONCURRENCY: usize = 64;

/// What to run.
#[derive(Clone, Debug)]
pub struct ScalePlan {
    /// The executable that serves and runs the client processes: this binary.
    pub exe: PathBuf,
    /// Idle authenticated connections to hold (N).
    pub connections: usize,
    /// Source addresses, 127.0.0.2 onwards (`None`: enough that each uses at most half of
    /// the ephemeral port range, at least 4).
    pub sources: Option<usize>,
    /// Client processes (`None`: enough that each fits its descriptor limit, at least 2).
    pub client_procs: Option<usize>,
    /// Bound of each phase: the ramp (all connections open) and the broadcast's delivery.
    pub timeout: Duration,
    /// How long the server gets to settle before each memory reading.
    pub settle: Duration,
    /// Worker threads of the server's runtime (`None`: one per CPU).
    pub server_threads: Option<usize>,
}

impl ScalePlan {
    /// N connections with the defaults: sources and client processes as needed, 120 s per
    /// phase, 1.5 s to settle.
    #[must_use]
    pub fn new(exe: PathBuf, connections: usize) -> Self {
        Self {
            exe,
            connections,
            sources: None,
            client_procs: None,
            timeout: Duration::from_secs(120),
            settle: Duration::from_millis(1500),
            server_threads: None,
        }
    }
}

/// The machine's limits a run must fit in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The hard `RLIMIT_NOFILE` the children inherit (each raises its soft limit to it).
    pub nofile_hard: u64,
    /// Ephemeral ports per source address (`net.ipv4.ip_local_port_range`).
    pub ports: u64,
}

impl Limits {
    /// This process's hard descriptor limit and the kernel's ephemeral port range.
    ///
    /// # Errors
    ///
    /// When either cannot be read.
    pub fn of_this_machine() -> Result<Self, BenchError> {
        let (_, nofile_hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")?;
        let mut bounds = range.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(low)), Some(Ok(high))) = (bounds.next(), bounds.next()) else {
            return Err(format!("cannot read ip_local_port_range: {range:?}").into());
        };
        Ok(Self {
            nofile_hard,
            ports: high.saturating_sub(low) + 1,
        })
    }
}

/// The shape a run takes once the defaults are filled in and the limits checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Connections (N).
    pub connections: usize,
    /// Source addresses.
    pub sources: usize,
    /// Client processes.
    pub client_procs: usize,
}

/// `a / b` rounded up (`b` > 0).
fn div_ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

/// Fills in the defaults of `plan` and checks the run fits `limits`; the error names the
/// limit and the setting to change.
///
/// # Errors
///
/// When N is 0, or the server's, a client process's or a source address's share exceeds its
/// limit.
pub fn shape(
    connections: usize,
    sources: Option<usize>,
    client_procs: Option<usize>,
    limits: Limits,
) -> Result<Shape, String> {
    if connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let n = connections as u64;
    let server_needs = n + FD_MARGIN;
    if server_needs > limits.nofile_hard {
        return Err(format!(
            "{n} connections need {server_needs} descriptors in the server process, over the \
             hard RLIMIT_NOFILE of {} (the server raises its soft limit to the hard one, no \
             further). Raise the hard limit (`ulimit -Hn`, `prlimit --nofile=N:N`, \
             LimitNOFILE= in systemd, nofile in /etc/security/limits.conf; needs root or \
             CAP_SYS_RESOURCE, and at most fs.nr_open), or ask for at most {} connections.",
            limits.nofile_hard,
            limits.nofile_hard.saturating_sub(FD_MARGIN)
        ));
    }
    let per_proc_max = limits.nofile_hard.saturating_sub(FD_MARGIN).max(1);
    let procs = match client_procs {
        Some(0) => return Err("--client-procs must be at least 1".into()),
        Some(procs) => procs.min(connections),
        None => usize::try_from(div_ceil(n, per_proc_max))
            .unwrap_or(usize::MAX)
            .max(2)
            .min(connections),
    };
    let per_proc = div_ceil(n, procs as u64);
    if per_proc + FD_MARGIN > limits.nofile_hard {
        return Err(format!(
            "{per_proc} connections per client process need {} descriptors, over the hard \
             RLIMIT_NOFILE of {}: use --client-procs {} or more, or raise the hard limit.",
            per_proc + FD_MARGIN,
            limits.nofile_hard,
            div_ceil(n, per_proc_max)
        ));
    }
    let per_source_max = limits.ports.saturating_sub(PORT_MARGIN).max(1);
    let sources = match sources {
        Some(0) => return Err("--sources must be at least 1".into()),
        Some(sources) => sources.min(connections),
        None => {
            usize::try_from(div_ceil(n, (limits.ports / 2).max(1)).max(div_ceil(n, per_source_max)))
                .unwrap_or(usize::MAX)
                .max(4)
                .min(connections)
        }
    };
    if sources > MAX_SOURCES {
        return Err(format!(
            "{sources} source addresses asked for; 127.0.0.2 to 127.0.0.254 give {MAX_SOURCES}"
        ));
    }
    let per_source = div_ceil(n, sources as u64);
    if per_source > per_source_max {
        return Err(format!(
            "{per_source} connections per source address exceed its {} ephemeral ports \
             (net.ipv4.ip_local_port_range, less {PORT_MARGIN} left to other sockets): use \
             --sources {} or more, or widen the range.",
            limits.ports,
            div_ceil(n, per_source_max)
        ));
    }
    Ok(Shape {
        connections,
        sources,
        client_procs: procs,
    })
}

/// What a scale run measured.
#[derive(Clone, Debug, Default)]
pub struct ScaleReport {
    /// The machine, one line.
    pub machine: String,
    /// The day of the run (UTC).
    pub date: String,
    /// Connections asked for (N), sources and client processes.
    pub shape: Option<Shape>,
    /// The server's descriptor limit (soft, hard) as its `/proc/<pid>/limits` shows it.
    pub server_nofile: (u64, u64),
    /// The smallest soft descriptor limit of the client processes.
    pub client_nofile: u64,
    /// Connections that authenticated.
    pub connected: u64,
    /// Connections that failed to open or authenticate, or did not within the timeout.
    pub failed: u64,
    /// The first failure, if any.
    pub first_failure: Option<String>,
    /// From the first connect to the last `auth_ok`, all client processes together, seconds.
    pub ramp_s: f64,
    /// Authenticated connections per second over the ramp.
    pub accept_rate: f64,
    /// Connections the server's hub held before the broadcast (the trigger's included).
    pub hub_connections: u64,
    /// Server RSS before any connection, KiB.
    pub rss_before_kib: u64,
    /// Server RSS with the connections idle, KiB.
    pub rss_idle_kib: u64,
    /// Server RSS right after the broadcast reached everyone (or the timeout), KiB.
    pub rss_after_broadcast_kib: u64,
    /// The machine's unreclaimable kernel slab (sockets among it) before any connection and
    /// with them idle, KiB: both ends of every connection, and whatever else the machine
    /// did meanwhile.
    pub kernel_slab_kib: (u64, u64),
    /// Server CPU time over the ramp, seconds.
    pub server_cpu_ramp_s: f64,
    /// Server CPU time from the broadcast call to the last receipt, seconds.
    pub server_cpu_broadcast_s: f64,
    /// Connections that received the broadcast.
    pub delivered: u64,
    /// N minus `delivered`: never connected, dropped, or not received within the timeout.
    pub missing: u64,
    /// Broadcast call (the server's stamp) to the first receipt, milliseconds.
    pub first_receipt_ms: f64,
    /// Broadcast call to the last receipt, milliseconds (the time to reach all when
    /// `missing` is 0).
    pub last_receipt_ms: f64,
    /// Receipts by the time: 50% and 99% of the N connections had it after, milliseconds
    /// (`None` if fewer ever did).
    pub receipt_p50_ms: Option<f64>,
    /// See `receipt_p50_ms`.
    pub receipt_p99_ms: Option<f64>,
}

impl ScaleReport {
    /// Resident bytes per idle connection.
    #[must_use]
    pub fn bytes_per_connection(&self) -> f64 {
        (self.rss_idle_kib as f64 - self.rss_before_kib as f64) * 1024.0
            / self.connected.max(1) as f64
    }

    /// The machine's unreclaimable kernel slab per connection (both ends, client and server
    /// socket), bytes.
    #[must_use]
    pub fn kernel_bytes_per_connection(&self) -> f64 {
        (self.kernel_slab_kib.1 as f64 - self.kernel_slab_kib.0 as f64) * 1024.0
            / self.connected.max(1) as f64
    }

    /// The report as markdown, `command` being the command line that produced it.
    #[must_use]
    pub fn markdown(&self, command: &str) -> String {
        let mut out = String::new();
        let shape = self.shape.unwrap_or(Shape {
            connections: 0,
            sources: 0,
            client_procs: 0,
        });
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"));
        let _ = writeln!(out, "# Many connections on one node\n");
        let _ = writeln!(out, "Command: `{command}`  ");
        let _ = writeln!(out, "Machine: {}; {}\n", self.machine, self.date);
        let _ = writeln!(
            out,
            "N = {} idle authenticated connections from {} client processes over {} source \
             addresses (127.0.0.2 onwards) to one pkg-router server process on 127.0.0.1.\n",
            shape.connections, shape.client_procs, shape.sources
        );
        let _ = writeln!(out, "| figure | value |\n|---|---:|");
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "| {name} | {value} |");
        };
        row(
            "server RLIMIT_NOFILE (soft / hard)",
            format!("{} / {}", self.server_nofile.0, self.server_nofile.1),
        );
        row(
            "client processes' soft RLIMIT_NOFILE (lowest)",
            self.client_nofile.to_string(),
        );
        row(
            "connections authenticated / failed",
            format!("{} / {}", self.connected, self.failed),
        );
        row("hub connections before the broadcast", {
            format!("{} (the trigger's included)", self.hub_connections)
        });
        row("ramp (first connect to last auth_ok)", {
            format!("{:.2} s", self.ramp_s)
        });
        row(
            "accept rate (authenticated connections/s)",
            format!("{:.0}", self.accept_rate),
        );
        row("server CPU over the ramp", {
            format!(
                "{:.2} s ({:.0} us per connection)",
                self.server_cpu_ramp_s,
                self.server_cpu_ramp_s * 1e6 / self.connected.max(1) as f64
            )
        });
        row(
            "server RSS before / idle / after the broadcast",
            format!(
                "{:.1} / {:.1} / {:.1} MiB",
                self.rss_before_kib as f64 / 1024.0,
                self.rss_idle_kib as f64 / 1024.0,
                self.rss_after_broadcast_kib as f64 / 1024.0
            ),
        );
        row(
            "**server RSS per idle connection**",
            format!("**{:.1} KiB**", self.bytes_per_connection() / 1024.0),
        );
        row(
            "kernel unreclaimable slab per connection (both ends; machine-wide, indicative)",
            format!("{:.1} KiB", self.kernel_bytes_per_connection() / 1024.0),
        );
        row(
            "broadcast deliveries counted / missing",
            format!("{} / {}", self.delivered, self.missing),
        );
        row(
            "broadcast call to first receipt",
            format!("{:.1} ms", self.first_receipt_ms),
        );
        row(
            "broadcast call to 50% / 99% of N",
            format!("{} / {}", ms(self.receipt_p50_ms), ms(self.receipt_p99_ms)),
        );
        row(
            "**broadcast call to the last receipt**",
            format!(
                "**{:.1} ms**{}",
                self.last_receipt_ms,
                if self.missing == 0 {
                    " (all N)"
                } else {
                    " (not all: see missing)"
                }
            ),
        );
        row(
            "server CPU for the broadcast",
            format!("{:.2} s", self.server_cpu_broadcast_s),
        );
        if let Some(failure) = &self.first_failure {
            let _ = writeln!(out, "\nFirst failure: {failure}");
        }
        out
    }
}

/// Runs `plan` on this machine's limits (checked first).
///
/// # Errors
///
/// When the run does not fit the limits (nothing is started then), or the server or a client
/// process cannot start. Connections that fail are counted, not errors.
pub fn run(plan: &ScalePlan) -> Result<ScaleReport, BenchError> {
    if plan.timeout > MAX_TIMEOUT || plan.settle > MAX_TIMEOUT {
        return Err(format!("--timeout and --settle may be at most {MAX_TIMEOUT:?}").into());
    }
    let limits = Limits::of_this_machine()?;
    let shape = shape(plan.connections, plan.sources, plan.client_procs, limits)?;
    rlimit::increase_nofile_limit(u64::MAX)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(drive(plan, shape))
}

fn progress(line: &str) {
    eprintln!("[pkg-router-bench scale] {line}");
}

/// A client process: its input (closing it ends the process) and its output lines.
struct ClientProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl ClientProcess {
    /// The next line starting with `tag` (other lines skipped), its rest; an `ERROR` line,
    /// the end of output or `timeout` is an error.
    async fn expect(&mut self, tag: &str, timeout: Duration) -> Result<String, BenchError> {
        let read = async {
            while let Some(line) = self.lines.next_line().await? {
                if let Some(error) = line.strip_prefix("ERROR ") {
                    return Err(BenchError::from(format!("client process: {error}")));
                }
                if let Some(rest) = line.strip_prefix(tag) {
                    return Ok(rest.trim().to_owned());
                }
            }
            Err(BenchError::from(format!(
                "client process exited before {tag}"
            )))
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| format!("no {tag} from a client process within {timeout:?}"))?
    }

    async fn send(&mut self, line: &str) -> Result<(), BenchError> {
        let stdin = self.stdin.as_mut().ok_or("client process input closed")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Closes its input (it exits) and waits at most 5 s, then kills it.
    async fn stop(mut self) {
        crate::child::stop(&mut self.child, self.stdin.take()).await;
    }
}

/// Space-separated numbers of a child's line.
fn numbers(line: &str) -> Vec<u64> {
    line.split_whitespace()
        .map_while(|word| word.parse().ok())
        .collect()
}

/// The soft and hard `Max open files` of process `pid`.
fn nofile_of(pid: &str) -> Result<(u64, u64), BenchError> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .ok_or("no Max open files in /proc limits")?;
    let values = numbers(line);
    match values[..] {
        [soft, hard, ..] => Ok((soft, hard)),
        _ => Err(format!("cannot read Max open files: {line:?}").into()),
    }
}

/// Asks the server's hub how many connections it holds.
async fn hub_count(trigger: &mut Ws, seq: u64) -> Result<u64, BenchError> {
    let id = proto::request_id(usize::MAX, seq);
    let frame = format!(r#"{{"pkg_id":{STATS},"req_id":"{id}","data":{{}}}}"#);
    let reply = client::call(trigger, frame, &id).await?;
    Ok(proto::number_after(&reply, r#""connections":"#).unwrap_or(0))
}

async fn drive(plan: &ScalePlan, shape: Shape) -> Result<ScaleReport, BenchError> {
    let mut server_plan = Plan::smoke(plan.exe.clone());
    server_plan.server_threads = plan.server_threads;
    let server = ServerProcess::start(&server_plan, Kind::PkgRouter).await?;
    let mut clients = Vec::new();
    let result = measure(plan, shape, &server, &mut clients).await;
    // The server first: its end closes first and keeps the TIME_WAIT sockets, on its own
    // address and port. Were the clients first (or both at once), N sockets on the source
    // addresses' ephemeral ports would wait 60 s in TIME_WAIT, and the next run's
    // bind-before-connect would search past them for a free port (a ramp 3 - 10x slower).
    server.stop().await;
    for client in clients {
        client.stop().await;
    }
    result
}

async fn measure(
    plan: &ScalePlan,
    shape: Shape,
    server: &ServerProcess,
    clients: &mut Vec<ClientProcess>,
) -> Result<ScaleReport, BenchError> {
    let mut report = ScaleReport {
        machine: procfs::machine(),
        date: procfs::today(),
        shape: Some(shape),
        ..ScaleReport::default()
    };
    let n = shape.connections as u64;
    report.server_nofile = nofile_of(server.pid())?;
    if n + FD_MARGIN > report.server_nofile.0 {
        return Err(format!(
            "the server's soft RLIMIT_NOFILE is {} (hard {}), too low for {n} connections",
            report.server_nofile.0, report.server_nofile.1
        )
        .into());
    }
    tokio::time::sleep(plan.settle).await;
    report.rss_before_kib = server.rss_kib()?;
    report.kernel_slab_kib.0 = procfs::meminfo_kib("SUnreclaim")?;
    let cpu_before = server.cpu_time()?;

    // The client processes: connection c goes to process c % P and source c % K.
    let lifetime = plan.timeout * 3 + Duration::from_secs(120);
    let port = server.addr.port().to_string();
    let per_proc = shape.connections.div_ceil(shape.client_procs);
    for proc_index in 0..shape.client_procs {
        let first = proc_index * per_proc;
        let count = per_proc.min(shape.connections.saturating_sub(first));
        if count == 0 {
            break;
        }
        let mut child = Command::new(&plan.exe)
            .args([
                "scale-client",
                "--port",
                &port,
                "--first",
                &first.to_string(),
                "--count",
                &count.to_string(),
                "--sources",
                &shape.sources.to_string(),
                "--timeout",
                &plan.timeout.as_secs_f64().to_string(),
                "--max-lifetime",
                &lifetime.as_secs().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout of a client process")?;
        clients.push(ClientProcess {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        });
    }
    report.client_nofile = u64::MAX;
    for client in clients.iter_mut() {
        let soft = numbers(&client.expect("NOFILE", Duration::from_secs(30)).await?);
        report.client_nofile = report.client_nofile.min(soft.first().copied().unwrap_or(0));
    }
    progress(&format!(
        "{} connections from {} processes over {} sources; server fd limit {} / {}",
        n, shape.client_procs, shape.sources, report.server_nofile.0, report.server_nofile.1
    ));

    // The ramp: each process reports `CONNECTED ok failed start_ns end_ns`.
    let (mut start_ns, mut end_ns) = (u64::MAX, 0u64);
    for client in clients.iter_mut() {
        let line = client
            .expect("CONNECTED", plan.timeout + Duration::from_secs(30))
            .await?;
        let values = numbers(&line);
        let [ok, failed, start, end, ..] = values[..] else {
            return Err(format!("malformed CONNECTED line: {line:?}").into());
        };
        report.connected += ok;
        report.failed += failed;
        start_ns = start_ns.min(start);
        end_ns = end_ns.max(end);
        if failed > 0 && report.first_failure.is_none() {
            // The words after the numbers: the process's first failure.
            let reason: Vec<&str> = line.split_whitespace().skip(4).collect();
            report.first_failure = Some(reason.join(" "));
        }
    }
    report.ramp_s = end_ns.saturating_sub(start_ns) as f64 / 1e9;
    report.accept_rate = report.connected as f64 / report.ramp_s.max(1e-9);
    report.server_cpu_ramp_s = server.cpu_time()?.saturating_sub(cpu_before).as_secs_f64();
    progress(&format!(
        "{} authenticated ({} failed) in {:.2} s: {:.0} per second",
        report.connected, report.failed, report.ramp_s, report.accept_rate
    ));

    // The trigger (from 127.0.0.1): waits until the hub holds everyone, then broadcasts.
    let admin = usize::MAX >> 1;
    let mut trigger = client::connect(Kind::PkgRouter, server.addr, admin, &["admin"]).await?;
    let expected = report.connected + 1;
    let deadline = Instant::now() + plan.timeout;
    for seq in 0.. {
        report.hub_connections = hub_count(&mut trigger, seq).await?;
        if report.hub_connections >= expected || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(plan.settle).await;
    report.rss_idle_kib = server.rss_kib()?;
    report.kernel_slab_kib.1 = procfs::meminfo_kib("SUnreclaim")?;
    progress(&format!(
        "hub holds {}; server RSS {} -> {} KiB ({:.1} KiB per connection)",
        report.hub_connections,
        report.rss_before_kib,
        report.rss_idle_kib,
        report.bytes_per_connection() / 1024.0
    ));

    let cpu_before = server.cpu_time()?;
    let id = proto::request_id(admin, 1 << 40);
    let frame = format!(r#"{{"pkg_id":{BROADCAST},"req_id":"{id}","data":{{"count":1}}}}"#);
    let reply = client::call(&mut trigger, frame, &id).await?;
    if !client::is_success(Kind::PkgRouter, &reply) {
        return Err(format!("broadcast refused: {reply}").into());
    }
    let timeout_ms = plan.timeout.as_millis().to_string();
    for client in clients.iter_mut() {
        client.send(&format!("COLLECT {timeout_ms}")).await?;
    }
    // Each process: `RECEIVED got stamp_ns first_ns last_ns`, then one `AT` line of receipt
    // times (ns after the stamp) for the percentiles.
    let mut stamp = u64::MAX;
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut receipts: Vec<u64> = Vec::with_capacity(shape.connections);
    for client in clients.iter_mut() {
        let line = client
            .expect("RECEIVED", plan.timeout + Duration::from_secs(30))
            .await?;
        let values = numbers(&line);
        let [got, stamp_ns, first_ns, last_ns, ..] = values[..] else {
            return Err(format!("malformed RECEIVED line: {line:?}").into());
        };
        report.delivered += got;
        if got > 0 {
            stamp = stamp.min(stamp_ns);
            first = first.min(first_ns);
            last = last.max(last_ns);
        }
        let at = client.expect("AT", Duration::from_secs(30)).await?;
        receipts.extend(numbers(&at));
    }
    report.server_cpu_broadcast_s = server.cpu_time()?.saturating_sub(cpu_before).as_secs_f64();
    report.rss_after_broadcast_kib = server.rss_kib()?;
    let _ = trigger.close(None).await;
    report.missing = n.saturating_sub(report.delivered);
    if report.delivered > 0 {
        report.first_receipt_ms = first.saturating_sub(stamp) as f64 / 1e6;
        report.last_receipt_ms = last.saturating_sub(stamp) as f64 / 1e6;
    }
    receipts.sort_unstable();
    let nth = |fraction: f64| {
        let rank = ((n as f64 * fraction).ceil() as usize).max(1);
        receipts.get(rank - 1).map(|ns| *ns as f64 / 1e6)
    };
    report.receipt_p50_ms = nth(0.5);
    report.receipt_p99_ms = nth(0.99);
    progress(&format!(
        "broadcast: {} delivered, {} missing, last receipt after {:.1} ms",
        report.delivered, report.missing, report.last_receipt_ms
    ));
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// The client process: `pkg-router-bench scale-client`.

/// What a client process is told.
#[derive(Clone, Debug)]
pub struct ClientArgs {
    /// The server's port on 127.0.0.1.
    pub port: u16,
    /// Index of its first connection (all processes together).
    pub first: usize,
    /// Connections it holds.
    pub count: usize,
    /// Source addresses (connection c binds 127.0.0.(2 + c % sources)).
    pub sources: usize,
    /// Bound of its ramp.
    pub timeout: Duration,
    /// It exits after this, whatever happens.
    pub max_lifetime: Duration,
}

/// Writes one line to standard output and flushes it.
fn say(line: &str) -> Result<(), BenchError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Runs a client process: raises its descriptor limit, opens its connections, reports the
/// ramp; on `COLLECT <ms>` reports the broadcast's receipts; exits when its input closes.
///
/// # Errors
///
/// When its runtime cannot start or standard output is gone. A limit too low is reported as an
/// `ERROR` line.
pub fn client_process(args: &ClientArgs) -> Result<(), BenchError> {
    if args.timeout > MAX_TIMEOUT || args.max_lifetime > MAX_TIMEOUT * 4 {
        return Err(format!("--timeout may be at most {MAX_TIMEOUT:?}").into());
    }
    let soft = rlimit::increase_nofile_limit(u64::MAX)?;
    if args.count as u64 + FD_MARGIN > soft {
        say(&format!(
            "ERROR {} connections need {} descriptors, the client process's RLIMIT_NOFILE \
             is {soft}: use more client processes",
            args.count,
            args.count as u64 + FD_MARGIN
        ))?;
        return Ok(());
    }
    say(&format!("NOFILE {soft}"))?;
    let (commands, mut command_rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        // End of input: the driver is done with us (or gone).
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if commands.send(line).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    let lifetime = args.max_lifetime;
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        eprintln!("pkg-router-bench scale-client: lifetime of {lifetime:?} reached, exiting");
        std::process::exit(3);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>(args.count.max(1));
        let (receipt_tx, receipt_rx) = mpsc::channel::<(u64, u64)>(args.count.max(1));
        let start_ns = proto::wall_ns();
        spawn_connections(args, ready_tx, receipt_tx);
        let (ok, failed, end_ns, first_error) = ramp(ready_rx, args.count, args.timeout).await;
        say(&format!(
            "CONNECTED {ok} {failed} {start_ns} {end_ns} {}",
            first_error.unwrap_or_default()
        ))?;
        // Wait for the driver's COLLECT (the broadcast was sent), then for the receipts.
        let mut collect_ms = None;
        while let Some(line) = command_rx.recv().await {
            if let Some(ms) = line.strip_prefix("COLLECT ") {
                collect_ms = ms.trim().parse::<u64>().ok();
                break;
            }
        }
        let Some(collect_ms) = collect_ms else {
            return Ok(());
        };
        let deadline = Instant::now() + Duration::from_millis(collect_ms).min(MAX_TIMEOUT);
        let receipts = collect(receipt_rx, ok, deadline).await;
        let stamp = receipts.iter().map(|r| r.0).min().unwrap_or(0);
        let first = receipts.iter().map(|r| r.1).min().unwrap_or(0);
        let last = receipts.iter().map(|r| r.1).max().unwrap_or(0);
        say(&format!(
            "RECEIVED {} {stamp} {first} {last}",
            receipts.len()
        ))?;
        let mut at = String::from("AT");
        for (stamp, received) in &receipts {
            let _ = write!(at, " {}", received.saturating_sub(*stamp));
        }
        say(&at)?;
        // Hold the connections until the driver closes our input.
        while command_rx.recv().await.is_some() {}
        Ok(())
    })
}

/// One task per connection: open and authenticate it (at most [`CONNECT_CONCURRENCY`] at
/// once), report it ready, then read until the broadcast arrives and report its receipt.
fn spawn_connections(
    args: &ClientArgs,
    ready: mpsc::Sender<Result<(), String>>,
    receipts: mpsc::Sender<(u64, u64)>,
) {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let sources = args.sources.max(1);
    for conn in args.first..args.first + args.count {
        let gate = Arc::clone(&gate);
        let ready = ready.clone();
        let receipts = receipts.clone();
        // 2 + conn % sources is at most 254 (sources <= MAX_SOURCES).
        let last_octet = u8::try_from(conn % sources)
            .ok()
            .and_then(|offset| FIRST_SOURCE.checked_add(offset))
            .unwrap_or(FIRST_SOURCE);
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet));
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let opened =
                client::connect_from(Kind::PkgRouter, server, source, conn, &["view-books"]).await;
            drop(permit);
            let mut ws = match opened {
                Ok(ws) => {
                    let _ = ready.send(Ok(())).await;
                    ws
                }
                Err(err) => {
                    let _ = ready.send(Err(format!("from {source}: {err}"))).await;
                    return;
                }
            };
            drop(ready);
            // Reading answers the server's pings; nothing else arrives before the broadcast.
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let now = proto::wall_ns();
                let text = text.as_str();
                if let (Some(0), Some(stamp)) = (
                    proto::number_after(text, r#""seq":"#),
                    proto::number_after(text, r#""t":"#),
                ) {
                    let _ = receipts.send((stamp, now)).await;
                    break;
                }
            }
            // Hold the connection until the process exits, still answering pings.
            while let Some(Ok(_)) = ws.next().await {}
            std::future::pending::<()>().await;
        });
    }
}

/// Counts the connections' ready reports until all `count` came or `timeout` passed: (ok,
/// failed, time of the last success in wall ns, the first failure).
async fn ramp(
    mut ready: mpsc::Receiver<Result<(), String>>,
    count: usize,
    timeout: Duration,
) -> (u64, u64, u64, Option<String>) {
    let deadline = Instant::now() + timeout;
    let (mut ok, mut failed, mut end_ns, mut first_error) = (0u64, 0u64, 0u64, None);
    while ok + failed < count as u64 {
        match tokio::time::timeout_at(deadline, ready.recv()).await {
            Ok(Some(Ok(()))) => {
                ok += 1;
                end_ns = proto::wall_ns();
            }
            Ok(Some(Err(err))) => {
                failed += 1;
                first_error.get_or_insert(err);
            }
            Ok(None) => break,
            Err(_) => {
                first_error.get_or_insert_with(|| format!("not all connected within {timeout:?}"));
                break;
            }
        }
    }
    let failed = count as u64 - ok;
    (ok, failed, end_ns, first_error)
}

/// The receipts (stamp, receipt time) of up to `expected` connections until `deadline`.
async fn collect(
    mut receipts: mpsc::Receiver<(u64, u64)>,
    expected: u64,
    deadline: Instant,
) -> Vec<(u64, u64)> {
    let mut got = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    while (got.len() as u64) < expected {
        match tokio::time::timeout_at(deadline, receipts.recv()).await {
            Ok(Some(receipt)) => got.push(receipt),
            Ok(None) | Err(_) => break,
        }
    }
    got
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: Limits = Limits {
        nofile_hard: 20_000,
        ports: 28_232,
    };

    #[test]
    fn defaults_fit_the_limits() {
        let s = shape(19_000, None, None, HERE).unwrap();
        assert_eq!((s.sources, s.client_procs), (4, 2));
        let big = Limits {
            nofile_hard: 1_048_576,
            ports: 28_232,
        };
        let s = shape(100_000, None, None, big).unwrap();
        assert_eq!((s.sources, s.client_procs), (8, 2));
        let s = shape(3, None, None, HERE).unwrap();
        assert_eq!((s.sources, s.client_procs), (3, 2));
    }

    #[test]
    fn over_the_limits_is_refused_with_the_setting() {
        let err = shape(100_000, None, None, HERE).unwrap_err();
        assert!(err.contains("RLIMIT_NOFILE of 20000"), "{err}");
        assert!(err.contains("at most 19936"), "{err}");
        // A client process needs what the server needs: one process fits when the server does.
        assert_eq!(shape(19_000, None, Some(1), HERE).unwrap().client_procs, 1);
        assert_eq!(shape(19_000, Some(1), None, HERE).unwrap().sources, 1);
        let narrow = Limits {
            nofile_hard: 20_000,
            ports: 10_000,
        };
        let err = shape(19_000, Some(1), None, narrow).unwrap_err();
        assert!(err.contains("ip_local_port_range"), "{err}");
        assert!(err.contains("--sources 3"), "{err}");
        assert_eq!(shape(19_000, None, None, narrow).unwrap().sources, 4);
        assert!(shape(19_000, Some(254), None, HERE).is_err());
        assert!(shape(0, None, None, HERE).is_err());
        assert!(shape(10, Some(0), None, HERE).is_err());
        let many = Limits {
            nofile_hard: 100_000_000,
            ports: 1_100,
        };
        let err = shape(50_000, None, None, many).unwrap_err();
        assert!(err.contains("source"), "{err}");
    }

    #[test]
    fn a_timeout_past_a_day_is_refused_not_overflowed() {
        let mut plan = ScalePlan::new(PathBuf::from("/nonexistent"), 10);
        plan.timeout = Duration::MAX;
        assert!(run(&plan).unwrap_err().to_string().contains("at most"));
        let args = ClientArgs {
            port: 1,
            first: 0,
            count: 1,
            sources: 1,
            timeout: Duration::MAX,
            max_lifetime: Duration::MAX,
        };
        assert!(client_process(&args).is_err());
    }
}
