//! `pkg-router-bench`: end-to-end load, fan-out and memory benchmarks of pkg-router against a
//! bare tokio-tungstenite floor, jsonrpsee and socketioxide, measured in the same run.
//!
//! ```text
//! cargo run --release -p pkg-router-bench -- all      # the full run (a few minutes)
//! cargo run --release -p pkg-router-bench -- smoke    # a few seconds, tiny sizes
//! ```
//!
//! `all` prints a markdown report and writes it to `target/bench-report.md`; `client-cost`
//! measures the CPU per request of `pkg_router::client::Client` against the raw client.
#![forbid(unsafe_code)]

use pkg_router_bench::{BenchError, Kind, Plan};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "\
usage:
  pkg-router-bench all   [options]   full run; report to stdout and target/bench-report.md
  pkg-router-bench smoke [options]   a few seconds with tiny sizes
  pkg-router-bench client-cost [cost options]
                                     CPU per request of pkg_router::client::Client against the
                                     raw tokio-tungstenite client, same server, same run
  pkg-router-bench cluster [--fanout C1,C2] [--messages M] [--requests N] [--rounds R]
                                     3 nodes on Redis against 1 (needs redis-server): fan-out,
                                     publish cost, shared rate limit; markdown to stdout
  pkg-router-bench scale --connections N [--sources K] [--client-procs P] [--timeout SECS]
                         [--settle SECS] [--server-threads N] [--out PATH]
                                     N idle authenticated connections on one pkg-router server
                                     from P client processes over K source addresses
                                     (127.0.0.2..): server RSS per connection, accept rate, one
                                     broadcast's time to reach all N (every delivery counted);
                                     refused up front if N does not fit the fd limit or the
                                     ephemeral ports; each phase bounded by --timeout (120 s)
  pkg-router-bench serve <pkg-router|floor|jsonrpsee|socketioxide> --port N [--max-lifetime SECS]
                         [--threads N]
  pkg-router-bench books [books options]
                                     the books example's real write path: its release binary
                                     on a fresh on-disk SQLite database, a closed loop of
                                     CREATE_BOOK, server CPU per request against the same SQL
                                     through sqlx in-process (the floor); markdown to stdout and
                                     target/books-report.md
                                     (used by the driver: one server in this process)
  pkg-router-bench scale-client --port N --first I --count C --sources K --timeout SECS
                         --max-lifetime SECS
                                     (used by scale: one client process)
options (override the plan's sizes):
  --servers a,b,c        servers to measure (default: pkg-router,floor,jsonrpsee,socketioxide,
                         pkg-router-protobuf; the last is the pkg-router server with clients on
                         ?format=protobuf)
  --connections N        closed/open-loop connections (0: skip those runs)
  --duration SECS        measured seconds of each closed/open-loop run
  --warmup SECS          warm-up seconds
  --rounds N             closed/open-loop rounds per server, in rotation
  --requests N           closed loop: stop after N requests in all (no warm-up; for profiling)
  --open-loop on|off     whether to run the open loop (default: on)
  --fanout C1,C2         fan-out client counts (empty: skip)
  --messages M           fan-out messages
  --idle N               idle connections of the memory run (0: skip)
  --out PATH             where to write the report (all: target/bench-report.md)
  --server-threads N     worker threads of each server's runtime (default: one per CPU)
  --server-wrapper CMD   run each server under CMD, e.g. \"valgrind --tool=callgrind\" or heaptrack
cost options:
  --connections N        connections of each variant (default 50)
  --requests N           requests of each round, all connections together (default 20000)
  --warmup-rounds N      unmeasured rounds of each variant first (default 2)
  --repetitions N        measured rounds of each variant, order alternating (default 6)
  --only raw|client      run one variant alone (to profile this process)
  --out PATH             also write the report there
  --server-threads N, --server-wrapper CMD   as above
books options:
  --books-exe PATH       the books binary (default: built first with
                         `cargo build --release --example books`, then target/release/examples/books)
  --db-dir DIR           where the databases go, on disk (default: target/books-bench)
  --connections N        closed-loop connections (default 50)
  --duration SECS        measured seconds of each run (default 6)
  --warmup SECS          warm-up seconds (default 2)
  --rounds N             runs of each configuration, in rotation (default 3)
  --requests N           stop each run after N requests in all (no warm-up)
  --nodelay on,off       TCP_NODELAY settings of the server (default: on,off with synchronous
                         normal, then on with synchronous full)
  --synchronous normal,full
                         SQLite synchronous settings (with --nodelay: every combination)
  --defaults             pass neither flag (a binary older than them)
  --floor-writes N       writes of the in-process floor per round and setting (0: none;
                         default 20000)
  --out PATH             where to write the report (default target/books-report.md)";

fn main() -> Result<(), BenchError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    match command.as_str() {
        "serve" => serve(&args[1..]),
        "all" | "smoke" => bench(command, &args[1..]),
        "client-cost" => client_cost(&args[1..]),
        "books" => books(&args[1..]),
        "cluster" => cluster(&args[1..]),
        "scale" => scale(&args[1..]),
        "scale-client" => scale_client(&args[1..]),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}").into()),
    }
}

/// The value after option `name` at `args[i]`.
fn value<'a>(args: &'a [String], i: usize, name: &str) -> Result<&'a str, BenchError> {
    args.get(i + 1)
        .map(String::as_str)
        .ok_or_else(|| format!("{name} needs a value").into())
}

fn serve(args: &[String]) -> Result<(), BenchError> {
    let kind = args
        .first()
        .and_then(|name| Kind::parse(name))
        .ok_or_else(|| format!("serve needs a server kind\n{USAGE}"))?;
    let mut port = 0u16;
    let mut lifetime = Duration::from_secs(1800);
    let mut threads = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--port" => port = value(args, i, "--port")?.parse()?,
            "--threads" => threads = Some(value(args, i, "--threads")?.parse()?),
            "--max-lifetime" => {
                lifetime = Duration::from_secs(value(args, i, "--max-lifetime")?.parse()?);
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    pkg_router_bench::serve(kind, port, lifetime, threads)
}

fn bench(command: &str, args: &[String]) -> Result<(), BenchError> {
    let exe = std::env::current_exe()?;
    let mut plan = if command == "all" {
        Plan::full(exe)
    } else {
        Plan::smoke(exe)
    };
    let mut out: Option<PathBuf> = (command == "all").then(default_report_path);
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        let v = value(args, i, name)?;
        match name {
            "--servers" => {
                plan.kinds = v
                    .split(',')
                    .map(|name| Kind::parse(name).ok_or_else(|| format!("no server {name:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "--connections" => plan.connections = v.parse()?,
            "--duration" => plan.duration = Duration::from_secs_f64(v.parse()?),
            "--warmup" => plan.warmup = Duration::from_secs_f64(v.parse()?),
            "--rounds" => plan.rounds = v.parse()?,
            "--requests" => plan.max_requests = Some(v.parse()?),
            "--open-loop" => match v {
                "on" => {}
                "off" => plan.open_loop = None,
                other => return Err(format!("--open-loop: on or off, not {other}").into()),
            },
            "--fanout" => {
                plan.fanout_clients = counts(v)?;
            }
            "--messages" => plan.fanout_messages = v.parse()?,
            "--idle" => plan.idle_connections = v.parse()?,
            "--out" => out = Some(PathBuf::from(v)),
            "--server-threads" => plan.server_threads = Some(v.parse()?),
            "--server-wrapper" => {
                plan.server_wrapper = v.split_whitespace().map(str::to_owned).collect();
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    let report = pkg_router_bench::run(&plan)?;
    let invocation = invocation(command, args);
    let markdown = report.markdown(&invocation);
    publish(&markdown, out.as_deref())?;
    if !report.failures.is_empty() {
        return Err(format!("{} scenario(s) failed", report.failures.len()).into());
    }
    Ok(())
}

fn cluster(args: &[String]) -> Result<(), BenchError> {
    let mut plan = pkg_router_bench::cluster::ClusterPlan::default();
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        let v = value(args, i, name)?;
        match name {
            "--fanout" => {
                plan.clients = counts(v)?;
            }
            "--messages" => plan.messages = v.parse()?,
            "--requests" => plan.requests = v.parse()?,
            "--rounds" => plan.rounds = v.parse::<usize>()?.max(1),
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    println!("{}", pkg_router_bench::cluster::run(&plan)?);
    Ok(())
}

fn scale(args: &[String]) -> Result<(), BenchError> {
    use pkg_router_bench::scale::{self, ScalePlan};
    let mut plan = ScalePlan::new(std::env::current_exe()?, 0);
    let mut out: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        let v = value(args, i, name)?;
        match name {
            "--connections" => plan.connections = v.parse()?,
            "--sources" => plan.sources = Some(v.parse()?),
            "--client-procs" => plan.client_procs = Some(v.parse()?),
            "--timeout" => plan.timeout = seconds(v)?,
            "--settle" => plan.settle = seconds(v)?,
            "--server-threads" => plan.server_threads = Some(v.parse()?),
            "--out" => out = Some(PathBuf::from(v)),
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    if plan.connections == 0 {
        return Err(format!("scale needs --connections N\n{USAGE}").into());
    }
    let report = scale::run(&plan)?;
    let invocation = invocation("scale", args);
    let markdown = report.markdown(&invocation);
    publish(&markdown, out.as_deref())?;
    if report.missing > 0 {
        return Err(format!(
            "{} of {} connections did not receive the broadcast",
            report.missing, plan.connections
        )
        .into());
    }
    Ok(())
}

fn scale_client(args: &[String]) -> Result<(), BenchError> {
    let mut client = pkg_router_bench::scale::ClientArgs {
        port: 0,
        first: 0,
        count: 0,
        sources: 1,
        timeout: Duration::from_secs(120),
        max_lifetime: Duration::from_secs(600),
    };
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        let v = value(args, i, name)?;
        match name {
            "--port" => client.port = v.parse()?,
            "--first" => client.first = v.parse()?,
            "--count" => client.count = v.parse()?,
            "--sources" => client.sources = v.parse()?,
            "--timeout" => client.timeout = seconds(v)?,
            "--max-lifetime" => client.max_lifetime = seconds(v)?,
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    pkg_router_bench::scale::client_process(&client)
}

/// A number of seconds (fractions allowed; negative, NaN or huge values refused).
fn seconds(value: &str) -> Result<Duration, BenchError> {
    Ok(Duration::try_from_secs_f64(value.parse()?)?)
}

fn client_cost(args: &[String]) -> Result<(), BenchError> {
    use pkg_router_bench::client_cost::{CostPlan, Variant};
    let mut plan = CostPlan::new(std::env::current_exe()?);
    let mut out: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        let v = value(args, i, name)?;
        match name {
            "--connections" => plan.connections = v.parse::<usize>()?.max(1),
            "--requests" => plan.requests = v.parse()?,
            "--warmup-rounds" => plan.warmup_rounds = v.parse()?,
            "--repetitions" => plan.repetitions = v.parse()?,
            "--only" => {
                plan.variants = vec![
                    Variant::parse(v).ok_or_else(|| format!("--only: raw or client, not {v}"))?,
                ];
            }
            "--out" => out = Some(PathBuf::from(v)),
            "--server-threads" => plan.server_threads = Some(v.parse()?),
            "--server-wrapper" => {
                plan.server_wrapper = v.split_whitespace().map(str::to_owned).collect();
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    let report = pkg_router_bench::client_cost::run(&plan)?;
    let invocation = invocation("client-cost", args);
    let markdown = report.markdown(&invocation);
    publish(&markdown, out.as_deref())?;
    Ok(())
}

/// `target/bench-report.md` of the workspace (or of `CARGO_TARGET_DIR`).
fn default_report_path() -> PathBuf {
    target_dir().join("bench-report.md")
}

/// The workspace's target directory (or `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

/// `on,off` as booleans.
fn switches(value: &str) -> Result<Vec<bool>, BenchError> {
    value
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| match v {
            "on" => Ok(true),
            "off" => Ok(false),
            other => Err(format!("on or off, not {other:?}").into()),
        })
        .collect()
}

/// Builds the books example in this binary's profile and returns its path.
fn build_books() -> Result<PathBuf, BenchError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--example", "books", "-p", "pkg-router-suite"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    eprintln!("[pkg-router-bench books] building the books example: {command:?}");
    let status = command.status()?;
    if !status.success() {
        return Err(format!("building the books example failed: {status}").into());
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    Ok(target_dir().join(profile).join("examples/books"))
}

fn books(args: &[String]) -> Result<(), BenchError> {
    use pkg_router_bench::books::{self, BooksPlan, Config, Synchronous};
    let mut exe: Option<PathBuf> = None;
    let mut plan = BooksPlan::full(PathBuf::new(), target_dir().join("books-bench"));
    let mut out = target_dir().join("books-report.md");
    let mut nodelay: Option<Vec<bool>> = None;
    let mut synchronous: Option<Vec<Synchronous>> = None;
    let mut defaults = false;
    let mut i = 0;
    while i < args.len() {
        let name = args[i].as_str();
        if name == "--defaults" {
            defaults = true;
            i += 1;
            continue;
        }
        let v = value(args, i, name)?;
        match name {
            "--books-exe" => exe = Some(PathBuf::from(v)),
            "--db-dir" => plan.db_dir = PathBuf::from(v),
            "--connections" => plan.connections = v.parse::<usize>()?.max(1),
            "--duration" => plan.duration = Duration::from_secs_f64(v.parse()?),
            "--warmup" => plan.warmup = Duration::from_secs_f64(v.parse()?),
            "--rounds" => plan.rounds = v.parse::<usize>()?.max(1),
            "--requests" => plan.max_requests = Some(v.parse()?),
            "--nodelay" => nodelay = Some(switches(v)?),
            "--synchronous" => {
                synchronous = Some(
                    v.split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| {
                            Synchronous::parse(s)
                                .ok_or_else(|| format!("--synchronous: normal or full, not {s:?}"))
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            "--floor-writes" => plan.floor_writes = v.parse()?,
            "--out" => out = PathBuf::from(v),
            other => return Err(format!("unknown option {other:?}\n{USAGE}").into()),
        }
        i += 2;
    }
    if defaults {
        plan.configs = vec![Config {
            nodelay: None,
            synchronous: None,
        }];
    } else if nodelay.is_some() || synchronous.is_some() {
        let nodelay = nodelay.unwrap_or_else(|| vec![true]);
        let synchronous = synchronous.unwrap_or_else(|| vec![Synchronous::Normal]);
        plan.configs = synchronous
            .iter()
            .flat_map(|&sync| {
                nodelay.iter().map(move |&on| Config {
                    nodelay: Some(on),
                    synchronous: Some(sync),
                })
            })
            .collect();
    }
    plan.books_exe = match exe {
        Some(exe) => exe,
        None => build_books()?,
    };
    let report = books::run(&plan)?;
    let invocation = invocation("books", args);
    let markdown = report.markdown(&invocation, &plan);
    publish(&markdown, Some(&out))?;
    if !report.failures.is_empty() {
        return Err(format!("{} run(s) failed", report.failures.len()).into());
    }
    Ok(())
}

/// The command line that reproduces a run, for its report.
fn invocation(command: &str, args: &[String]) -> String {
    std::iter::once(format!(
        "cargo run --release -p pkg-router-bench -- {command}"
    ))
    .chain(args.iter().cloned())
    .collect::<Vec<_>>()
    .join(" ")
}

/// Prints a report and, with `out`, writes it there too (creating its folder).
fn publish(markdown: &str, out: Option<&std::path::Path>) -> Result<(), BenchError> {
    println!("{markdown}");
    if let Some(path) = out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, markdown)?;
        eprintln!("[pkg-router-bench] report written to {}", path.display());
    }
    Ok(())
}

/// A comma-separated list of counts (`100,1000`); empty items are skipped.
fn counts(value: &str) -> Result<Vec<usize>, std::num::ParseIntError> {
    value
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::parse)
        .collect()
}
