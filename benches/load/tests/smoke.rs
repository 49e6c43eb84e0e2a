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
