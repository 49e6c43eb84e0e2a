//! The harness end to end with tiny sizes (`pkg-router-bench smoke`), so it cannot rot: every
//! server starts as a child process, every scenario runs, fan-out loses nothing. Speed is
//! measured by the full run, never asserted here.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router_bench::{Kind, Plan, run};
use std::path::PathBuf;

#[test]
fn smoke_run_measures_every_scenario() {
    let plan = Plan::smoke(PathBuf::from(env!("CARGO_BIN_EXE_pkg-router-bench")));
    let report = run(&plan).unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);

    for rows in [&report.closed_loop, &report.open_loop] {
        let kinds: Vec<Kind> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, Kind::ALL);
        for row in rows {
            assert!(row.requests > 0 && row.throughput > 0.0, "{row:?}");
            assert_eq!((row.errors, row.lost), (0, 0), "{row:?}");
            assert!(row.latency_us[0] > 0.0 && row.latency_us[4] >= row.latency_us[2]);
        }
    }
    assert_eq!(
        report.closed_loop.iter().map(|r| r.requests).sum::<u64>(),
        Kind::ALL.len() as u64 * 200
    );

    assert_eq!(
        report.fanout.len(),
        3,
        "pkg-router, jsonrpsee and socketioxide"
    );
    for row in &report.fanout {
        assert_eq!(row.expected, 20 * 10);
        assert_eq!(row.deliveries, row.expected, "{row:?}");
        assert_eq!(row.failed_clients, 0);
        assert!(row.rate > 0.0 && row.last_ms[1] >= row.last_ms[0]);
    }

    assert_eq!(report.memory.len(), 4);
    for row in &report.memory {
        assert_eq!(row.connections, 50);
        assert!(row.before_kib > 0 && row.idle_kib > 0, "{row:?}");
    }

    let markdown = report.markdown("pkg-router-bench smoke");
    assert!(
        markdown.contains("Protobuf against JSON, closed loop"),
        "{markdown}"
    );
    assert!(
        markdown.contains("Second peer, socketioxide") && markdown.contains("| socketioxide |"),
        "{markdown}"
    );
    for heading in [
        "## Targets",
        "## Closed loop",
        "## Open loop",
        "## Broadcast fan-out",
        "## Server memory",
    ] {
        assert!(markdown.contains(heading), "{heading} missing:\n{markdown}");
    }
}

#[test]
fn client_cost_measures_both_variants() {
    use pkg_router_bench::client_cost::{self, CostPlan, Variant};
    let mut plan = CostPlan::new(PathBuf::from(env!("CARGO_BIN_EXE_pkg-router-bench")));
    plan.connections = 2;
    plan.requests = 40;
    plan.warmup_rounds = 1;
    plan.repetitions = 2;
    let report = client_cost::run(&plan).unwrap();
    let variants: Vec<Variant> = report.variants.iter().map(|v| v.variant).collect();
    assert_eq!(variants, [Variant::Raw, Variant::Client]);
    for v in &report.variants {
        assert_eq!((v.requests, v.errors), (2 * 40, 0), "{v:?}");
        assert!(v.throughput() > 0.0);
    }
    assert_eq!(report.pair_ratios.len(), 2);
    let markdown = report.markdown("pkg-router-bench client-cost");
    assert!(markdown.contains("client / raw"), "{markdown}");
}

#[test]
fn scale_run_counts_every_delivery() {
    use pkg_router_bench::scale::{self, ScalePlan};
    use std::time::Duration;
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_pkg-router-bench"));
    let mut plan = ScalePlan::new(exe, 60);
    plan.sources = Some(3);
    plan.client_procs = Some(2);
    plan.timeout = Duration::from_secs(30);
    plan.settle = Duration::from_millis(100);
    let report = scale::run(&plan).unwrap();
    assert_eq!(
        report
            .shape
            .map(|s| (s.connections, s.sources, s.client_procs)),
        Some((60, 3, 2))
    );
    assert_eq!((report.connected, report.failed), (60, 0), "{report:?}");
    assert!(report.hub_connections >= 61, "{report:?}");
    assert_eq!((report.delivered, report.missing), (60, 0), "{report:?}");
    assert!(report.server_nofile.0 >= 60 + scale::FD_MARGIN);
    assert!(report.rss_idle_kib > 0 && report.accept_rate > 0.0);
    assert!(report.receipt_p99_ms.is_some());
    let markdown = report.markdown("pkg-router-bench scale --connections 60");
    assert!(markdown.contains("| broadcast deliveries counted / missing | 60 / 0 |"));

    // More than any descriptor limit allows: refused before anything starts.
    plan.connections = 2_000_000_000;
    let err = scale::run(&plan).unwrap_err().to_string();
    assert!(err.contains("RLIMIT_NOFILE"), "{err}");
}

#[test]
fn books_runs_the_example_on_disk_with_nodelay_on_and_off_and_a_floor() {
    use pkg_router_bench::books::{self, BooksPlan, FloorDriver};
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_pkg-router-bench"));
    let Some(exe) = books::default_books_exe(&bench) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the books example is not built next to {}",
            bench.display()
        );
        eprintln!("SKIPPED: the books example is not built; run `cargo test --workspace`");
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("books-smoke");
    let plan = BooksPlan::smoke(exe, dir.clone());
    let report = books::run(&plan).unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let nodelay: Vec<Option<bool>> = report.rows.iter().map(|r| r.config.nodelay).collect();
    assert_eq!(nodelay, [Some(true), Some(false)]);
    for row in &report.rows {
        assert_eq!((row.requests, row.errors), (200, 0), "{row:?}");
        assert!(row.server_cpu_s >= 0.0 && row.latency_us[2] >= row.latency_us[0]);
    }
    let drivers: Vec<FloorDriver> = report.floors.iter().map(|f| f.driver).collect();
    assert_eq!(
        drivers,
        [
            FloorDriver::RusqliteGrouped,
            FloorDriver::Rusqlite,
            FloorDriver::Sqlx
        ]
    );
    for floor in &report.floors {
        assert_eq!(floor.writes, 200, "{floor:?}");
    }
    // Every database was removed.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let markdown = report.markdown("pkg-router-bench books", &plan);
    assert!(markdown.contains("ratio to the floor"), "{markdown}");
    assert!(markdown.contains("nodelay off"), "{markdown}");
}
