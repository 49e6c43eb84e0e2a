//! The markdown report: one table per scenario, ratios to the baselines of the same run, and
//! the issue's targets, met or missed.

use crate::{FanoutResult, Kind, LoadResult, OpenLoopRate, Plan, Report};
use std::fmt::Write;

/// The plan's sizes in one line.
pub(crate) fn sizes(plan: &Plan) -> String {
    let load = match plan.max_requests {
        Some(n) => format!("{} connections, {n} requests", plan.connections),
        None => format!(
            "{} connections, {} round(s) per server of {} s warm-up + {} s measured",
            plan.connections,
            plan.rounds.max(1),
            plan.warmup.as_secs_f64(),
            plan.duration.as_secs_f64()
        ),
    };
    let open = match plan.open_loop {
        Some(OpenLoopRate::Fixed(rate)) => format!("open loop {rate:.0} req/s"),
        Some(OpenLoopRate::FractionOfFloor(f)) => {
            format!(
                "open loop at {:.0}% of the floor's closed-loop throughput",
                f * 100.0
            )
        }
        None => "no open loop".to_owned(),
    };
    let clients: Vec<String> = plan
        .fanout_clients
        .iter()
        .map(ToString::to_string)
        .collect();
    format!(
        "{load}; {open}; fan-out {} messages to {} clients; {} idle connections; client runtime {} threads",
        plan.fanout_messages,
        clients.join(" and "),
        plan.idle_connections,
        plan.client_threads
    )
}

/// How the servers and the client are set up (printed with every report).
const NOTES: &str = "## Setup

- **Workload**: CREATE_BOOK, `{\"title\":\"The Pragmatic Programmer\",\"author_id\":1,\"isbn\":\"978-0135957059\"}`;
  every server stores the book in the same in-memory store (a bounded ring behind a mutex) and
  returns it.
- **pkg-router**: `pkg_router::axum::ws` on axum, first-frame JWT auth (`JwtAuthenticator::hs256`,
  one token per connection), role `create-book`, the schema (title 1..200, author_id >= 1, isbn
  `^978-\\d{10}$`) validated on every request, `Data<CreateBook>` + `State<Store>` handler.
  `WsConfig` defaults except `rate_limit = None`, `max_connections` and
  `max_connections_per_principal` 100 000, `outbound_queue` 4096; read/write buffers at their
  default 4 KiB. Fan-out: a handler calling `hub.broadcast` M times in a loop.
- **floor**: tokio-tungstenite, parses the envelope (typed `data`), stores, writes the response;
  no auth, roles, routing or validation; 4 KiB read/write buffers like pkg-router's.
- **jsonrpsee**: its WebSocket server (`ws_only`, `max_connections` 100 000), `create_book` as a
  synchronous method with the schema's rules checked by hand (no auth: it has no first-frame
  handshake). Fan-out: the idiomatic subscription (`tokio::sync::broadcast` channel of
  pre-serialized messages, each subscription forwarding to its sink).
- **socketioxide**: its tower layer on axum (Socket.IO v5 over Engine.IO v4, WebSocket transport
  only for these clients), no default features; `create_book` as an async event handler with
  `TryData<CreateBook>`, the rules checked by hand as for jsonrpsee (no auth), the book or
  `{\"error\":..}` answered through the ack. Every socket joins the room `books` in the connect
  handler (its synchronous part, before any event can arrive); fan-out: a `broadcast` event whose handler emits M events to the room in a loop.
  Config defaults (ping every 25 s, 20 s for the pong, 4 KiB WebSocket read buffer) except
  `max_buffer_size` 4096 packets per socket (pkg-router's `outbound_queue`; with the default,
  128, a burst of 200 to 5 000 clients lost 0.8% of the deliveries: `emit`, and the ack, fail
  on a full queue). Its clients send `42<ack>[\"create_book\",{..}]` and read
  `43<ack>[..]`, answering the server's pings (`2` -> `3`).
- **Client**: one tokio runtime, tokio-tungstenite, TCP_NODELAY everywhere; responses matched by
  id with the same substring scan for every server (for socketioxide, of the ack's head). Closed loop: one request in flight per
  connection. Open loop: latency counted from the scheduled send time (no coordinated
  omission). CPU times from `/proc/<pid>/stat` (10 ms ticks).
- **Fan-out latency**: per message, from the server's wall clock at the broadcast call (in the
  payload) to the wall clock at the last (first) client's receipt; M messages are broadcast back
  to back, so a message's latency includes waiting behind the earlier ones.
- **Memory**: VmRSS of the server process; kernel socket buffers are not in it. \"After 1 request
  each\": every connection sent one CREATE_BOOK and got its response.
";

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".to_owned()
    }
}

fn find(rows: &[LoadResult], kind: Kind) -> Option<&LoadResult> {
    rows.iter().find(|r| r.kind == kind)
}

fn load_table(out: &mut String, rows: &[LoadResult], open: bool) {
    let floor = find(rows, Kind::Floor).map(|r| r.throughput);
    let rpc = find(rows, Kind::Jsonrpsee).map(|r| r.throughput);
    let offered = if open { " offered/s |" } else { "" };
    let offered_rule = if open { "---:|" } else { "" };
    let _ = writeln!(
        out,
        "| server |{offered} requests | errors | lost | req/s | each round | vs floor | vs jsonrpsee | p50 us | p90 us | p99 us | p99.9 us | max us | client CPU (of one core) | server CPU per request |"
    );
    let _ = writeln!(
        out,
        "|---|{offered_rule}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let offered = match (open, r.offered_rate) {
            (true, Some(rate)) => format!(" {rate:.0} |"),
            (true, None) => " - |".to_owned(),
            (false, _) => String::new(),
        };
        let [p50, p90, p99, p999, max] = r.latency_us;
        let per_request_us = r.server_cpu_s * 1e6 / (r.requests.max(1) as f64);
        let rounds: Vec<String> = r.rounds.iter().map(|t| format!("{t:.0}")).collect();
        let _ = writeln!(
            out,
            "| {} |{offered} {} | {} | {} | {:.0} | {} | {} | {} | {p50:.0} | {p90:.0} | {p99:.0} | {p999:.0} | {max:.0} | {:.0}% | {per_request_us:.1} us |",
            r.kind.name(),
            r.requests,
            r.errors,
            r.lost,
            r.throughput,
            rounds.join(" / "),
            floor.map_or_else(|| "-".to_owned(), |f| ratio(r.throughput, f)),
            rpc.map_or_else(|| "-".to_owned(), |j| ratio(r.throughput, j)),
            r.client_cpu_s * 100.0 / r.seconds.max(1e-9),
        );
    }
}

fn fanout_table(out: &mut String, rows: &[FanoutResult]) {
    let _ = writeln!(
        out,
        "| server | clients (C) | messages (M) | deliveries | C x M | complete | last receipt p50 ms | p99 ms | max ms | first receipt p50 ms | deliveries/s | server CPU | client CPU |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let [p50, p99, max] = r.last_ms;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {p50:.1} | {p99:.1} | {max:.1} | {:.1} | {:.0} | {:.2} s | {:.2} s |",
            r.kind.name(),
            r.clients,
            r.messages,
            r.deliveries,
            r.expected,
            if r.deliveries == r.expected {
                "yes"
            } else {
                "**no**"
            },
            r.first_p50_ms,
            r.rate,
            r.server_cpu_s,
            r.client_cpu_s,
        );
    }
}

/// One row of the targets table.
struct Target {
    what: String,
    measured: String,
    met: Option<bool>,
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

fn targets(report: &Report) -> Vec<Target> {
    let mut targets = Vec::new();
    let closed = &report.closed_loop;
    let pkg = find(closed, Kind::PkgRouter);
    let floor = find(closed, Kind::Floor);
    let rpc = find(closed, Kind::Jsonrpsee);
    let connections = pkg.map_or(0, |p| p.connections);
    match (pkg, floor) {
        (Some(p), Some(f)) => targets.push(Target {
            what: format!("throughput, {connections} connections: >= 0.85x the floor"),
            measured: ratio(p.throughput, f.throughput),
            met: Some(p.throughput >= 0.85 * f.throughput),
        }),
        _ => targets.push(Target {
            what: "throughput >= 0.85x the floor".into(),
            measured: "-".into(),
            met: None,
        }),
    }
    match (pkg, rpc) {
        (Some(p), Some(j)) => {
            targets.push(Target {
                what: format!("throughput, {connections} connections: >= 1.2x jsonrpsee"),
                measured: ratio(p.throughput, j.throughput),
                met: Some(p.throughput >= 1.2 * j.throughput),
            });
            targets.push(Target {
                what: "closed-loop p99 no worse than jsonrpsee's".into(),
                measured: format!(
                    "{:.0} us vs {:.0} us ({})",
                    p.latency_us[2],
                    j.latency_us[2],
                    ratio(p.latency_us[2], j.latency_us[2])
                ),
                met: Some(p.latency_us[2] <= j.latency_us[2]),
            });
        }
        _ => targets.push(Target {
            what: "throughput >= 1.2x jsonrpsee, p99 no worse".into(),
            measured: "-".into(),
            met: None,
        }),
    }
    let pkg_fanout: Vec<&FanoutResult> = report
        .fanout
        .iter()
        .filter(|r| r.kind == Kind::PkgRouter)
        .collect();
    targets.push(Target {
        what: "fan-out: every message delivered to every client".into(),
        measured: pkg_fanout
            .iter()
            .map(|r| format!("{}/{} at C={}", r.deliveries, r.expected, r.clients))
            .collect::<Vec<_>>()
            .join(", "),
        met: (!pkg_fanout.is_empty())
            .then(|| pkg_fanout.iter().all(|r| r.deliveries == r.expected)),
    });
    if let Some(smallest) = pkg_fanout.iter().min_by_key(|r| r.clients) {
        let peer = report
            .fanout
            .iter()
            .find(|r| r.kind == Kind::Jsonrpsee && r.clients == smallest.clients);
        targets.push(Target {
            what: format!(
                "fan-out p99 at {} clients no worse than jsonrpsee's",
                smallest.clients
            ),
            measured: peer.map_or_else(
                || "-".to_owned(),
                |j| {
                    format!(
                        "{:.1} ms vs {:.1} ms ({})",
                        smallest.last_ms[1],
                        j.last_ms[1],
                        ratio(smallest.last_ms[1], j.last_ms[1])
                    )
                },
            ),
            met: peer.map(|j| smallest.last_ms[1] <= j.last_ms[1]),
        });
    }
    let memory = report.memory.iter().find(|m| m.kind == Kind::PkgRouter);
    targets.push(Target {
        what: format!(
            "memory: <= 16 KiB per idle connection ({} connections)",
            memory.map_or(0, |m| m.connections)
        ),
        measured: memory.map_or_else(
            || "-".to_owned(),
            |m| format!("{:.1} KiB", m.idle_bytes_per_connection() / 1024.0),
        ),
        met: memory.map(|m| m.idle_bytes_per_connection() <= 16.0 * 1024.0),
    });
    issue_15_targets(report, &mut targets);
    targets
}

/// Issue 15's targets that one `all` run can judge: memory and server CPU against the peers,
/// the open loop's p99 against the floor's (the issue asks for three runs: run `all` three
/// times, or the open loop alone with `--servers pkg-router,floor`).
fn issue_15_targets(report: &Report, targets: &mut Vec<Target>) {
    let memory = |kind| report.memory.iter().find(|m| m.kind == kind);
    if let (Some(p), Some(f)) = (memory(Kind::PkgRouter), memory(Kind::Floor)) {
        let (pi, fi) = (p.idle_bytes_per_connection(), f.idle_bytes_per_connection());
        targets.push(Target {
            what: format!(
                "issue 15: memory per idle connection <= 1.25x the floor ({} connections)",
                p.connections
            ),
            measured: format!(
                "{:.1} vs {:.1} KiB ({})",
                pi / 1024.0,
                fi / 1024.0,
                ratio(pi, fi)
            ),
            met: Some(pi <= 1.25 * fi),
        });
        let (pu, fu) = (p.used_bytes_per_connection(), f.used_bytes_per_connection());
        targets.push(Target {
            what: "issue 15: memory per connection after one request <= 1.25x the floor".into(),
            measured: format!(
                "{:.1} vs {:.1} KiB ({})",
                pu / 1024.0,
                fu / 1024.0,
                ratio(pu, fu)
            ),
            met: Some(pu <= 1.25 * fu),
        });
    }
    let closed = &report.closed_loop;
    let cpu = |r: &LoadResult| r.server_cpu_s / r.requests.max(1) as f64 * 1e6;
    if let (Some(p), Some(j)) = (find(closed, Kind::PkgRouter), find(closed, Kind::Jsonrpsee)) {
        targets.push(Target {
            what: "issue 15: server CPU per closed-loop request <= 0.75x jsonrpsee's".into(),
            measured: format!(
                "{:.1} vs {:.1} us ({})",
                cpu(p),
                cpu(j),
                ratio(cpu(p), cpu(j))
            ),
            met: Some(cpu(p) <= 0.75 * cpu(j)),
        });
    }
    let open = &report.open_loop;
    if let (Some(p), Some(f)) = (find(open, Kind::PkgRouter), find(open, Kind::Floor)) {
        targets.push(Target {
            what: "issue 15: open-loop p99 <= 1.2x the floor's (one of three runs)".into(),
            measured: format!(
                "{:.0} vs {:.0} us ({})",
                p.latency_us[2],
                f.latency_us[2],
                ratio(p.latency_us[2], f.latency_us[2])
            ),
            met: Some(p.latency_us[2] <= 1.2 * f.latency_us[2]),
        });
    }
}

/// Issue 15, item 5: pkg-router against socketioxide in this run, figure by figure (no target;
/// reported). Nothing when socketioxide was not measured.
fn socketioxide_summary(out: &mut String, report: &Report) {
    let closed = &report.closed_loop;
    let fanout_pair = |clients: usize| {
        let of = |kind: Kind| {
            report
                .fanout
                .iter()
                .find(|r| r.kind == kind && r.clients == clients)
        };
        of(Kind::PkgRouter).zip(of(Kind::Socketioxide))
    };
    let largest_fanout = report
        .fanout
        .iter()
        .filter(|r| r.kind == Kind::Socketioxide)
        .map(|r| r.clients)
        .filter(|&c| fanout_pair(c).is_some())
        .collect::<Vec<_>>();
    let memory = |kind: Kind| report.memory.iter().find(|m| m.kind == kind);
    let load = find(closed, Kind::PkgRouter).zip(find(closed, Kind::Socketioxide));
    let idle = memory(Kind::PkgRouter).zip(memory(Kind::Socketioxide));
    if load.is_none() && largest_fanout.is_empty() && idle.is_none() {
        return;
    }
    let _ = writeln!(
        out,
        "Second peer, socketioxide (issue 15 item 5; no target, reported): pkg-router against socketioxide in this run.\n"
    );
    let _ = writeln!(
        out,
        "| figure | pkg-router | socketioxide | pkg-router / socketioxide |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let mut row = |what: String, p: f64, s: f64, unit: &str, digits: usize| {
        let _ = writeln!(
            out,
            "| {what} | {p:.digits$}{unit} | {s:.digits$}{unit} | {} |",
            ratio(p, s)
        );
    };
    if let Some((p, s)) = load {
        let cpu = |r: &LoadResult| r.server_cpu_s * 1e6 / (r.requests.max(1) as f64);
        let connections = p.connections;
        row(
            format!("closed loop, {connections} connections: req/s"),
            p.throughput,
            s.throughput,
            "",
            0,
        );
        row(
            "closed loop: p99".into(),
            p.latency_us[2],
            s.latency_us[2],
            " us",
            0,
        );
        row(
            "closed loop: server CPU per request".into(),
            cpu(p),
            cpu(s),
            " us",
            1,
        );
    }
    for clients in largest_fanout {
        if let Some((p, s)) = fanout_pair(clients) {
            row(
                format!("fan-out to {clients}: last-receipt p99"),
                p.last_ms[1],
                s.last_ms[1],
                " ms",
                1,
            );
            let complete = |r: &FanoutResult| r.deliveries as f64 / r.expected.max(1) as f64;
            row(
                format!("fan-out to {clients}: deliveries / C x M"),
                complete(p),
                complete(s),
                "",
                4,
            );
            row(
                format!("fan-out to {clients}: server CPU"),
                p.server_cpu_s,
                s.server_cpu_s,
                " s",
                2,
            );
        }
    }
    if let Some((p, s)) = idle {
        row(
            format!("memory per idle connection ({})", p.connections),
            p.idle_bytes_per_connection() / 1024.0,
            s.idle_bytes_per_connection() / 1024.0,
            " KiB",
            1,
        );
        row(
            "memory per connection after 1 request".into(),
            p.used_bytes_per_connection() / 1024.0,
            s.used_bytes_per_connection() / 1024.0,
            " KiB",
            1,
        );
    }
    let _ = writeln!(out);
}

pub(crate) fn markdown(report: &Report, command: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# pkg-router end-to-end benchmarks\n");
    let _ = writeln!(out, "- Machine: {}", report.machine);
    let _ = writeln!(out, "- Date: {}", report.date);
    let _ = writeln!(out, "- Command: `{command}`");
    let _ = writeln!(out, "- Sizes: {}", report.sizes);
    let _ = writeln!(
        out,
        "- Client and servers share the machine; each server is a child process on 127.0.0.1. Compare ratios, not absolute figures.\n"
    );

    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(out, "| target | measured | verdict |");
    let _ = writeln!(out, "|---|---|---|");
    for target in targets(report) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            target.what,
            target.measured,
            verdict(target.met)
        );
    }
    let _ = writeln!(
        out,
        "\nThe dispatch targets (in-process, criterion) are measured by `cargo bench --bench dispatch`; see BENCHMARKS.md.\n"
    );
    // Issue 12 sets no end-to-end target for the protobuf format: the ratio is reported.
    let closed = &report.closed_loop;
    if let (Some(proto), Some(json)) = (
        find(closed, Kind::PkgRouterProtobuf),
        find(closed, Kind::PkgRouter),
    ) {
        let cpu = |r: &LoadResult| r.server_cpu_s * 1e6 / (r.requests.max(1) as f64);
        let _ = writeln!(
            out,
            "Protobuf against JSON, closed loop, same server (no target; reported): throughput {}, p99 {:.0} us vs {:.0} us, server CPU {:.1} vs {:.1} us per request.\n",
            ratio(proto.throughput, json.throughput),
            proto.latency_us[2],
            json.latency_us[2],
            cpu(proto),
            cpu(json),
        );
    }

    socketioxide_summary(&mut out, report);

    if !report.closed_loop.is_empty() {
        let _ = writeln!(out, "## Closed loop (CREATE_BOOK, send, await, repeat)\n");
        load_table(&mut out, &report.closed_loop, false);
        let _ = writeln!(out);
    }
    if !report.open_loop.is_empty() {
        let _ = writeln!(
            out,
            "## Open loop (fixed total rate; latency from the scheduled send time)\n"
        );
        load_table(&mut out, &report.open_loop, true);
        let _ = writeln!(out);
    }
    if !report.fanout.is_empty() {
        let _ = writeln!(
            out,
            "## Broadcast fan-out (M messages back to back; per message, broadcast call to receipt)\n"
        );
        fanout_table(&mut out, &report.fanout);
        let _ = writeln!(out);
    }
    if !report.memory.is_empty() {
        let _ = writeln!(out, "## Server memory (VmRSS)\n");
        let _ = writeln!(
            out,
            "| server | connections | RSS, none | RSS, idle | per idle connection | RSS, after 1 request each | per connection after 1 request |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for m in &report.memory {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} KiB | {:.1} MiB | {:.1} KiB |",
                m.kind.name(),
                m.connections,
                m.before_kib as f64 / 1024.0,
                m.idle_kib as f64 / 1024.0,
                m.idle_bytes_per_connection() / 1024.0,
                m.after_request_kib as f64 / 1024.0,
                m.used_bytes_per_connection() / 1024.0,
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{NOTES}");
    if !report.failures.is_empty() {
        let _ = writeln!(out, "## Failures\n");
        for failure in &report.failures {
            let _ = writeln!(out, "- {failure}");
        }
        let _ = writeln!(out);
    }
    out
}
