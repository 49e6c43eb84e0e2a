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

    assert_eq!(report.fanout.len(), 2, "pkg-router and jsonrpsee");
    for row in &report.fanout {
        assert_eq!(row.expected, 20 * 10);
        assert_eq!(row.deliveries, row.expected, "{row:?}");
        assert_eq!(row.failed_clients, 0);
        assert!(row.rate > 0.0 && row.last_ms[1] >= row.last_ms[0]);
    }

    assert_eq!(report.memory.len(), 3);
    for row in &report.memory {
        assert_eq!(row.connections, 50);
        assert!(row.before_kib > 0 && row.idle_kib > 0, "{row:?}");
    }

    let markdown = report.markdown("pkg-router-bench smoke");
    assert!(
        markdown.contains("Protobuf against JSON, closed loop"),
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
