//! `pkg-router-bench books`: the books example's real write path (issue 15, item 6).
//!
//! The books example's release binary runs as a child process on a fresh SQLite database on
//! disk (never tmpfs: a temporary directory under the target directory by default), with its
//! rate limit off; N connections, each authenticated with a token signed with the example's
//! public dev secret, send CREATE_BOOK in a closed loop (one request in flight each, a unique
//! title and ISBN per request). Each configuration (`--nodelay`, `--synchronous`) runs on a
//! fresh server and database, in rotation over the rounds.
//!
//! The floor: the same SQL (the statement, transaction shape and pragmas of the example's book
//! writer, `examples/books/app/writer.rs`) directly in this process, CPU of this process per
//! write: through rusqlite on one thread in groups of `min(N, 64)` writes per transaction (the
//! writer's shape when N creates wait) and one autocommit per write (its shape when one
//! waits), and through sqlx, one autocommit per write from N tasks over a pool of one
//! connection (the example's path before the writer). The ratio is taken to the cheapest.

use crate::client::{Ws, call, duration_ns, histogram};
use crate::{BenchError, procfs};
use futures_util::SinkExt;
use hdrhistogram::Histogram;
use pkg_router::jwt::Claims;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The example's public development secret (`app::DEV_SECRET`): the example uses it when no
/// secret is configured, as here.
pub const BOOKS_DEV_SECRET: &str = "books-demo-dev-secret-do-not-use-in-production";

/// The schema of the books example (its only migration), for the floor's database.
const MIGRATION: &str = include_str!("../../../examples/books/migrations/0001_books.sql");

/// The statement the example's book writer runs for each create (`writer.rs`, `INSERT_BOOK`).
pub const INSERT_BOOK: &str = "INSERT INTO books (title, author_id, isbn) VALUES (?1, ?2, ?3) \
                               RETURNING id, title, author_id, isbn, created_at";

/// How long the server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// SQLite's `synchronous` setting, as the example's `--synchronous` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    /// `NORMAL`: in WAL mode a commit does not wait for the disk.
    Normal,
    /// `FULL`: every commit syncs the WAL to disk.
    Full,
}

impl Synchronous {
    /// The value on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        }
    }

    /// The setting named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "normal" => Some(Synchronous::Normal),
            "full" => Some(Synchronous::Full),
            _ => None,
        }
    }

    fn sqlx(self) -> SqliteSynchronous {
        match self {
            Synchronous::Normal => SqliteSynchronous::Normal,
            Synchronous::Full => SqliteSynchronous::Full,
        }
    }
}

/// One configuration of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `--tcp-nodelay on|off`; `None`: the flag is not passed (the binary's default, for a
    /// binary older than the flag).
    pub nodelay: Option<bool>,
    /// `--synchronous`; `None`: not passed.
    pub synchronous: Option<Synchronous>,
}

impl Config {
    /// `nodelay on, synchronous normal`, or `defaults`.
    #[must_use]
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(on) = self.nodelay {
            parts.push(format!("nodelay {}", if on { "on" } else { "off" }));
        }
        if let Some(sync) = self.synchronous {
            parts.push(format!("synchronous {}", sync.name()));
        }
        if parts.is_empty() {
            "the binary's defaults".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BooksPlan {
    /// The books example binary (`target/release/examples/books`).
    pub books_exe: PathBuf,
    /// Where the databases are created (on disk, not tmpfs); removed afterwards.
    pub db_dir: PathBuf,
    /// Closed-loop connections.
    pub connections: usize,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Measured time of each run.
    pub duration: Duration,
    /// Stop after this many requests in all (no warm-up then), instead of `duration`.
    pub max_requests: Option<u64>,
    /// Runs of each configuration, in rotation.
    pub rounds: usize,
    /// The configurations measured.
    pub configs: Vec<Config>,
    /// Writes of the in-process floor per round (0: no floor).
    pub floor_writes: u64,
}

impl BooksPlan {
    /// The full run: 50 connections, 3 rounds of 2 s warm-up + 6 s, nodelay on and off with
    /// `synchronous` normal, then `synchronous` full with nodelay on; a floor of 20 000 writes
    /// per round and setting.
    #[must_use]
    pub fn full(books_exe: PathBuf, db_dir: PathBuf) -> Self {
        Self {
            books_exe,
            db_dir,
            connections: 50,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(6),
            max_requests: None,
            rounds: 3,
            configs: vec![
                Config {
                    nodelay: Some(true),
                    synchronous: Some(Synchronous::Normal),
                },
                Config {
                    nodelay: Some(false),
                    synchronous: Some(Synchronous::Normal),
                },
                Config {
                    nodelay: Some(true),
                    synchronous: Some(Synchronous::Full),
                },
            ],
            floor_writes: 20_000,
        }
    }

    /// A bounded run of a few seconds for the tests: 4 connections, 200 requests per
    /// configuration, nodelay on and off, a floor of 200 writes.
    #[must_use]
    pub fn smoke(books_exe: PathBuf, db_dir: PathBuf) -> Self {
        Self {
            connections: 4,
            max_requests: Some(200),
            rounds: 1,
            configs: vec![
                Config {
                    nodelay: Some(true),
                    synchronous: Some(Synchronous::Normal),
                },
                Config {
                    nodelay: Some(false),
                    synchronous: Some(Synchronous::Normal),
                },
            ],
            floor_writes: 200,
            ..Self::full(books_exe, db_dir)
        }
    }
}

/// One configuration's closed loop, all rounds together.
#[derive(Clone, Debug)]
pub struct BooksRow {
    /// The configuration.
    pub config: Config,
    /// CREATE_BOOK answered OK in the measured windows.
    pub requests: u64,
    /// Error answers (none expected).
    pub errors: u64,
    /// Measured seconds, all rounds.
    pub seconds: f64,
    /// Requests per second of each round.
    pub rounds: Vec<f64>,
    /// Round trip, microseconds: p50, p99, max.
    pub latency_us: [f64; 3],
    /// The server's CPU time in the windows, seconds.
    pub server_cpu_s: f64,
    /// The client's CPU time in the windows, seconds.
    pub client_cpu_s: f64,
}

impl BooksRow {
    /// Requests per second, all rounds together.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    /// Server CPU per request, microseconds.
    #[must_use]
    pub fn server_us_per_request(&self) -> f64 {
        self.server_cpu_s * 1e6 / (self.requests + self.errors).max(1) as f64
    }
}

/// How the floor reaches SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorDriver {
    /// sqlx, one autocommit `INSERT` per write from N tasks over a pool of one connection
    /// (the example's write path before the book writer): every statement goes to the
    /// connection's own thread and back.
    Sqlx,
    /// rusqlite on one thread, one autocommit `INSERT` per write.
    Rusqlite,
    /// rusqlite on one thread, `BEGIN IMMEDIATE`, one `INSERT` per write of a group of
    /// `min(N, 64)`, `COMMIT`: the example's book writer's shape when N creates wait.
    RusqliteGrouped,
}

impl FloorDriver {
    /// Its name in the report.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FloorDriver::Sqlx => "sqlx, autocommit",
            FloorDriver::Rusqlite => "rusqlite, autocommit",
            FloorDriver::RusqliteGrouped => "rusqlite, grouped",
        }
    }
}

/// The book writer's largest group (`examples/books/app/writer.rs`, `MAX_BATCH`).
pub const MAX_GROUP: usize = 64;

/// The floor with one driver and `synchronous` setting, all rounds together.
#[derive(Clone, Debug)]
pub struct FloorRow {
    /// The driver.
    pub driver: FloorDriver,
    /// The setting.
    pub synchronous: Synchronous,
    /// Writes committed.
    pub writes: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// CPU of this process, seconds.
    pub cpu_s: f64,
}

impl FloorRow {
    /// CPU per write, microseconds.
    #[must_use]
    pub fn us_per_write(&self) -> f64 {
        self.cpu_s * 1e6 / self.writes.max(1) as f64
    }
}

/// Everything the books run measured.
#[derive(Clone, Debug, Default)]
pub struct BooksReport {
    /// The machine, one line.
    pub machine: String,
    /// The day (UTC).
    pub date: String,
    /// Where the databases were, and its file system.
    pub disk: String,
    /// The closed-loop rows, one per configuration.
    pub rows: Vec<BooksRow>,
    /// The floor, one row per `synchronous` setting measured.
    pub floors: Vec<FloorRow>,
    /// What failed.
    pub failures: Vec<String>,
}

/// The books example's binary next to this one: `target/<profile>/examples/books` when this
/// is `target/<profile>/pkg-router-bench` (or `target/<profile>/deps/<test>` in a test).
#[must_use]
pub fn default_books_exe(this_exe: &Path) -> Option<PathBuf> {
    let dir = this_exe.parent()?;
    [
        dir.join("examples/books"),
        dir.parent()?.join("examples/books"),
    ]
    .into_iter()
    .find(|path| path.exists())
}

/// Runs `plan`; progress to standard error.
///
/// # Errors
///
/// When the runtime cannot start or the database directory cannot be made; a failed
/// configuration is listed in [`BooksReport::failures`] instead.
pub fn run(plan: &BooksPlan) -> Result<BooksReport, BenchError> {
    rlimit::increase_nofile_limit(u64::MAX)?;
    std::fs::create_dir_all(&plan.db_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut report = BooksReport {
        machine: procfs::machine(),
        date: procfs::today(),
        disk: disk_of(&plan.db_dir),
        ..BooksReport::default()
    };
    runtime.block_on(drive(plan, &mut report));
    Ok(report)
}

fn progress(line: &str) {
    eprintln!("[pkg-router-bench books] {line}");
}

/// The file system holding `dir`, from `/proc/mounts` (the longest mount point above it).
fn disk_of(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let best = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let point = fields.next()?;
            let fs = fields.next()?;
            dir.starts_with(point).then_some((point.len(), device, fs))
        })
        .max_by_key(|(len, _, _)| *len);
    match best {
        Some((_, device, fs)) => format!("{} ({fs} on {device})", dir.display()),
        None => dir.display().to_string(),
    }
}

async fn drive(plan: &BooksPlan, report: &mut BooksReport) {
    let mut totals: Vec<Option<BooksRow>> = vec![None; plan.configs.len()];
    let rounds = plan.rounds.max(1);
    for round in 0..rounds {
        for turn in 0..plan.configs.len() {
            let slot = (turn + round) % plan.configs.len();
            let config = plan.configs[slot];
            let label = format!("round {}/{rounds}, {}", round + 1, config.label());
            match one_run(plan, config).await {
                Ok(row) => {
                    progress(&format!(
                        "{label}: {:.0} req/s, p50 {:.0} us, p99 {:.0} us, server {:.1} us CPU/request",
                        row.throughput(),
                        row.latency_us[0],
                        row.latency_us[1],
                        row.server_us_per_request()
                    ));
                    let total = &mut totals[slot];
                    match total {
                        None => *total = Some(row),
                        Some(total) => merge(total, row),
                    }
                }
                Err(err) => {
                    let failure = format!("{label}: {err}");
                    progress(&failure);
                    report.failures.push(failure);
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if plan.floor_writes > 0 {
            let mut settings: Vec<Synchronous> = Vec::new();
            for sync in plan.configs.iter().filter_map(|c| c.synchronous) {
                if !settings.contains(&sync) {
                    settings.push(sync);
                }
            }
            if settings.is_empty() {
                settings.push(Synchronous::Normal);
            }
            for (sync, driver) in settings.into_iter().flat_map(|sync| {
                [
                    FloorDriver::RusqliteGrouped,
                    FloorDriver::Rusqlite,
                    FloorDriver::Sqlx,
                ]
                .map(|driver| (sync, driver))
            }) {
                match floor(plan, sync, driver).await {
                    Ok(row) => {
                        progress(&format!(
                            "round {}/{rounds}, floor {} synchronous {}: {:.0} writes/s, {:.1} us CPU/write",
                            round + 1,
                            driver.name(),
                            sync.name(),
                            row.writes as f64 / row.seconds.max(1e-9),
                            row.us_per_write()
                        ));
                        match report
                            .floors
                            .iter_mut()
                            .find(|f| f.synchronous == sync && f.driver == driver)
                        {
                            Some(total) => {
                                total.writes += row.writes;
                                total.seconds += row.seconds;
                                total.cpu_s += row.cpu_s;
                            }
                            None => report.floors.push(row),
                        }
                    }
                    Err(err) => {
                        let failure =
                            format!("floor {} synchronous {}: {err}", driver.name(), sync.name());
                        progress(&failure);
                        report.failures.push(failure);
                    }
                }
            }
        }
    }
    report.rows = totals.into_iter().flatten().collect();
}

fn merge(total: &mut BooksRow, row: BooksRow) {
    // Latencies: the larger of the rounds' (a conservative merge without the histograms).
    for (t, r) in total.latency_us.iter_mut().zip(row.latency_us) {
        *t = t.max(r);
    }
    total.requests += row.requests;
    total.errors += row.errors;
    total.seconds += row.seconds;
    total.rounds.extend(row.rounds);
    total.server_cpu_s += row.server_cpu_s;
    total.client_cpu_s += row.client_cpu_s;
}

/// The books server, a child process; killed when dropped.
struct BooksServer {
    child: Child,
    pid: String,
    addr: SocketAddr,
    db: PathBuf,
}

impl BooksServer {
    async fn start(plan: &BooksPlan, config: Config) -> Result<Self, BenchError> {
        let db = plan
            .db_dir
            .join(format!("books-bench-{}.db", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(&plan.books_exe);
        command
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(&db)
            .args(["--rate-limit", "off"])
            // The log level the example ships with (one line per book created).
            .env_remove("RUST_LOG")
            .env_remove("BOOKS_JWT_SECRET");
        if let Some(on) = config.nodelay {
            command.args(["--tcp-nodelay", if on { "on" } else { "off" }]);
        }
        if let Some(sync) = config.synchronous {
            command.args(["--synchronous", sync.name()]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", plan.books_exe.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::from("no stdout of the books server"))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::from("the books server exited at once"))?
            .to_string();
        let mut lines = BufReader::new(stdout).lines();
        let listening = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.trim().strip_prefix("books demo listening on http://") {
                    return Ok::<_, BenchError>(addr.parse::<SocketAddr>()?);
                }
            }
            Err(BenchError::from("the books server exited before listening"))
        };
        let addr = tokio::time::timeout(START_TIMEOUT, listening)
            .await
            .map_err(|_| format!("the books server did not listen within {START_TIMEOUT:?}"))??;
        // Its log (one line per create) is read and dropped, so it never blocks on the pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            addr,
            db,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        remove_db(&self.db);
    }
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// Connection `conn`, authenticated as `books-bench-<conn>` with the role `create-book`.
async fn connect(addr: SocketAddr, conn: usize) -> Result<Ws, BenchError> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(format!("ws://{addr}/web"), tcp, Some(config))
            .await?;
    let token = Claims::new(format!("books-bench-{conn}"))
        .realm_roles(["create-book"])
        .expires_in(Duration::from_secs(3600))
        .sign_hs256(BOOKS_DEV_SECRET)?;
    ws.send(tokio_tungstenite::tungstenite::Message::text(format!(
        r#"{{"type":"auth","token":"Bearer {token}"}}"#
    )))
    .await?;
    let reply = crate::client::next_text(&mut ws).await?;
    if reply != r#"{"type":"auth_ok"}"# {
        return Err(format!("auth refused: {reply}").into());
    }
    Ok(ws)
}

/// The CREATE_BOOK of connection `conn`'s request `seq`: a unique title and ISBN.
fn create_frame(conn: usize, seq: u64) -> (String, String) {
    let id = crate::proto::request_id(conn, seq);
    let frame = format!(
        r#"{{"pkg_id":3,"req_id":"{id}","data":{{"title":"Bench {conn}-{seq}","author_id":1,"isbn":"978-{:03}{:07}"}}}}"#,
        conn % 1000,
        seq % 10_000_000
    );
    (id, frame)
}

/// One closed loop on a fresh server and database.
async fn one_run(plan: &BooksPlan, config: Config) -> Result<BooksRow, BenchError> {
    let server = BooksServer::start(plan, config).await?;
    let result = closed_loop(plan, &server, config).await;
    server.stop().await;
    result
}

async fn closed_loop(
    plan: &BooksPlan,
    server: &BooksServer,
    config: Config,
) -> Result<BooksRow, BenchError> {
    let mut connections = Vec::with_capacity(plan.connections);
    for conn in 0..plan.connections {
        connections.push(connect(server.addr, conn).await?);
    }
    let budget = plan
        .max_requests
        .map(|n| std::sync::Arc::new(std::sync::atomic::AtomicU64::new(n)));
    let warmup = if budget.is_some() {
        Duration::ZERO
    } else {
        plan.warmup
    };
    let measure_from = Instant::now() + warmup;
    let end = measure_from
        + if budget.is_some() {
            Duration::from_secs(120)
        } else {
            plan.duration
        };
    let mut tasks = Vec::with_capacity(plan.connections);
    for (conn, mut ws) in connections.into_iter().enumerate() {
        let budget = budget.clone();
        tasks.push(tokio::spawn(async move {
            let mut histogram = histogram()?;
            let mut errors = 0u64;
            let mut first_error = None;
            let mut seq = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if let Some(budget) = &budget
                    && budget
                        .fetch_update(
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                            |n| n.checked_sub(1),
                        )
                        .is_err()
                {
                    break;
                }
                let (id, frame) = create_frame(conn, seq);
                seq += 1;
                let reply = call(&mut ws, frame, &id).await?;
                if now >= measure_from {
                    if reply.contains(r#""status_code":0"#) {
                        histogram.saturating_record(duration_ns(now.elapsed()));
                    } else {
                        errors += 1;
                        first_error.get_or_insert(reply);
                    }
                }
            }
            let _ = ws.close(None).await;
            Ok::<_, BenchError>((histogram, errors, first_error))
        }));
    }
    tokio::time::sleep_until(measure_from).await;
    let client_before = procfs::cpu_time("self")?;
    let server_before = procfs::cpu_time(&server.pid)?;
    let window_start = Instant::now();
    let mut total: Histogram<u64> = histogram()?;
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let (histogram, task_errors, error) = task.await??;
        total.add(histogram)?;
        errors += task_errors;
        if first_error.is_none() {
            first_error = error;
        }
    }
    let server_cpu = procfs::cpu_time(&server.pid)?.saturating_sub(server_before);
    let client_cpu = procfs::cpu_time("self")?.saturating_sub(client_before);
    let seconds = window_start.elapsed().as_secs_f64();
    if let Some(error) = first_error {
        progress(&format!(
            "{}: {errors} error answer(s), the first: {error}",
            config.label()
        ));
    }
    let us = |ns: u64| ns as f64 / 1e3;
    Ok(BooksRow {
        config,
        requests: total.len(),
        errors,
        seconds,
        rounds: vec![total.len() as f64 / seconds.max(1e-9)],
        latency_us: [
            us(total.value_at_quantile(0.5)),
            us(total.value_at_quantile(0.99)),
            us(total.max()),
        ],
        server_cpu_s: server_cpu.as_secs_f64(),
        client_cpu_s: client_cpu.as_secs_f64(),
    })
}

/// The floor: [`INSERT_BOOK`] through sqlx in this process, from `plan.connections` tasks over
/// a writer pool of one connection (as the example), on a fresh database with the example's
/// schema and pragmas (WAL, foreign keys, `sync`). CPU of this whole process per write.
async fn floor(
    plan: &BooksPlan,
    sync: Synchronous,
    driver: FloorDriver,
) -> Result<FloorRow, BenchError> {
    let db = plan
        .db_dir
        .join(format!("books-floor-{}.db", uuid::Uuid::new_v4().simple()));
    let result = match driver {
        FloorDriver::Sqlx => floor_sqlx(plan, &db, sync).await,
        FloorDriver::Rusqlite | FloorDriver::RusqliteGrouped => {
            let group = if driver == FloorDriver::Rusqlite {
                1
            } else {
                plan.connections.clamp(1, MAX_GROUP)
            };
            let (writes, path) = (plan.floor_writes, db.clone());
            tokio::task::spawn_blocking(move || floor_rusqlite(&path, sync, writes, group)).await?
        }
    };
    remove_db(&db);
    result
}

/// [`INSERT_BOOK`] `writes` times through rusqlite on this thread (a cached prepared
/// statement), with the example's schema and pragmas; in transactions of `group` writes when
/// `group` > 1, else each an autocommit.
fn floor_rusqlite(
    db: &Path,
    sync: Synchronous,
    writes: u64,
    group: usize,
) -> Result<FloorRow, BenchError> {
    let conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", sync.name().to_uppercase())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(MIGRATION)?;
    conn.execute("INSERT INTO authors (name) VALUES ('Frank Herbert')", ())?;
    let cpu_before = procfs::cpu_time("self")?;
    let start = Instant::now();
    let group = group.max(1) as u64;
    for seq in 0..writes {
        if group > 1 && seq % group == 0 {
            conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        let title = format!("Bench 0-{seq}");
        let isbn = format!("978-{:03}{:07}", seq / 10_000_000 % 1000, seq % 10_000_000);
        let mut insert = conn.prepare_cached(INSERT_BOOK)?;
        let row = insert.query_row(rusqlite::params![title, 1_i64, isbn], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        std::hint::black_box(row);
        if group > 1 && (seq % group == group - 1 || seq + 1 == writes) {
            conn.execute_batch("COMMIT")?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = procfs::cpu_time("self")?.saturating_sub(cpu_before);
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM books", (), |row| row.get(0))?;
    if u64::try_from(count).unwrap_or(0) != writes {
        return Err(format!("the floor stored {count} books, not {writes}").into());
    }
    Ok(FloorRow {
        driver: if group > 1 {
            FloorDriver::RusqliteGrouped
        } else {
            FloorDriver::Rusqlite
        },
        synchronous: sync,
        writes,
        seconds,
        cpu_s: cpu.as_secs_f64(),
    })
}

async fn floor_sqlx(
    plan: &BooksPlan,
    db: &Path,
    sync: Synchronous,
) -> Result<FloorRow, BenchError> {
    let options = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sync.sqlx());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    sqlx::raw_sql(MIGRATION).execute(&pool).await?;
    sqlx::query("INSERT INTO authors (name) VALUES ('Frank Herbert')")
        .execute(&pool)
        .await?;
    let writers = plan.connections.max(1);
    let per_writer = plan.floor_writes.div_ceil(writers as u64);
    let cpu_before = procfs::cpu_time("self")?;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for conn in 0..writers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for seq in 0..per_writer {
                let title = format!("Bench {conn}-{seq}");
                let isbn = format!("978-{:03}{:07}", conn % 1000, seq % 10_000_000);
                let row: (i64, String, i64, Option<String>, String) = sqlx::query_as(INSERT_BOOK)
                    .bind(&title)
                    .bind(1_i64)
                    .bind(&isbn)
                    .fetch_one(&pool)
                    .await?;
                std::hint::black_box(row);
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = procfs::cpu_time("self")?.saturating_sub(cpu_before);
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM books")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    let writes = per_writer * writers as u64;
    if u64::try_from(count).unwrap_or(0) != writes {
        return Err(format!("the floor stored {count} books, not {writes}").into());
    }
    Ok(FloorRow {
        driver: FloorDriver::Sqlx,
        synchronous: sync,
        writes,
        seconds,
        cpu_s: cpu.as_secs_f64(),
    })
}

impl BooksReport {
    /// The cheapest floor (in CPU per write) with `synchronous` setting `sync`, or any.
    #[must_use]
    pub fn floor_for(&self, sync: Option<Synchronous>) -> Option<&FloorRow> {
        fn cheapest<'a>(rows: impl Iterator<Item = &'a FloorRow>) -> Option<&'a FloorRow> {
            rows.min_by(|a, b| a.us_per_write().total_cmp(&b.us_per_write()))
        }
        cheapest(self.floors.iter().filter(|f| Some(f.synchronous) == sync))
            .or_else(|| cheapest(self.floors.iter()))
    }

    /// The report as markdown: one table, CPU per request against the floor of the same
    /// `synchronous` setting.
    #[must_use]
    pub fn markdown(&self, command: &str, plan: &BooksPlan) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# The books example's write path (`pkg-router-bench books`)\n"
        );
        let _ = writeln!(out, "Command: `{command}`\n");
        let _ = writeln!(out, "Machine: {}. Date: {}.\n", self.machine, self.date);
        let load = match plan.max_requests {
            Some(n) => format!("{n} requests per configuration"),
            None => format!(
                "{} round(s) per configuration of {} s warm-up + {} s measured",
                plan.rounds.max(1),
                plan.warmup.as_secs_f64(),
                plan.duration.as_secs_f64()
            ),
        };
        let _ = writeln!(
            out,
            "Closed loop of CREATE_BOOK (unique title and ISBN, author 1), {} connections, {load}; \
             database on {}; floor: {} writes per round and setting.\n",
            plan.connections, self.disk, plan.floor_writes
        );
        let _ = writeln!(
            out,
            "| configuration | req/s | p50 us | p99 us | max us | server CPU us/request | floor us/write | ratio to the floor | errors |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            let (floor_us, ratio) = match self.floor_for(row.config.synchronous) {
                Some(floor) if floor.us_per_write() > 0.0 => (
                    format!("{:.1} ({})", floor.us_per_write(), floor.driver.name()),
                    format!("{:.2}x", row.server_us_per_request() / floor.us_per_write()),
                ),
                _ => ("-".to_owned(), "-".to_owned()),
            };
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {floor_us} | {ratio} | {} |",
                row.config.label(),
                row.throughput(),
                row.latency_us[0],
                row.latency_us[1],
                row.latency_us[2],
                row.server_us_per_request(),
                row.errors
            );
        }
        if !self.floors.is_empty() {
            let _ = writeln!(
                out,
                "\n| floor (in-process, same statement and pragmas) | writes/s | CPU us/write |"
            );
            let _ = writeln!(out, "|---|---:|---:|");
            for floor in &self.floors {
                let _ = writeln!(
                    out,
                    "| {}, synchronous {} | {:.0} | {:.1} |",
                    floor.driver.name(),
                    floor.synchronous.name(),
                    floor.writes as f64 / floor.seconds.max(1e-9),
                    floor.us_per_write()
                );
            }
        }
        let _ = writeln!(
            out,
            "\nServer CPU: user + system time of the server process (all threads) over the \
             measured windows, from `/proc/<pid>/stat`, divided by the requests answered; the \
             floor's is this process's over its writes. Latencies: the largest of the rounds' \
             percentiles."
        );
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nFailures:");
            for failure in &self.failures {
                let _ = writeln!(out, "- {failure}");
            }
        }
        out
    }
}
