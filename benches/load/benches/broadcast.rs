//! Broadcast serialization and queuing: one push to 1, 100 and 10 000 connections' queues,
//! next to a hand-written baseline measured in the same run.
//!
//! - `baseline`: serialize the push frame once with serde_json, clone the bytes into every
//!   connection's tokio `mpsc` queue (what a server without a hub does);
//! - `hub`: `Hub::broadcast` to the same queues, plus building the frame the writer sends
//!   (`Push::json_frame`, built once per push and shared).
//!
//! Only the broadcast is timed; the queues are drained between iterations, untimed.
//! Run with `cargo bench -p pkg-router-bench --bench broadcast`; compare ratios.
#![allow(clippy::unwrap_used, missing_docs)] // a failed unwrap is a failed bench

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pkg_router::testing::{TestConnection, TestHub};
use pkg_router::{Hub, Principal};
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Serialize)]
struct BookCreated<'a> {
    action: &'a str,
    id: u64,
    title: &'a str,
    author_id: u64,
}

const EVENT: BookCreated<'static> = BookCreated {
    action: "created",
    id: 42,
    title: "The Pragmatic Programmer",
    author_id: 1,
};

#[derive(Serialize)]
struct Envelope<'a, T> {
    pkg_id: u32,
    req_id: &'a str,
    data: &'a T,
}

/// `n` connections on a hub (test doubles: a queue each, as a transport's connection has).
struct Connections {
    hub: TestHub,
    connections: Vec<TestConnection>,
}

fn connections(n: usize) -> Connections {
    // `From<Hub>`: no recording of what is sent, as in a server.
    let hub = TestHub::from(Hub::new());
    let connections = (0..n)
        .map(|_| hub.connect(Principal::anonymous()))
        .collect();
    Connections { hub, connections }
}

fn drain(connections: &[TestConnection]) {
    for connection in connections {
        connection.take_pushes();
    }
}

fn broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast");
    for n in [1usize, 100, 10_000] {
        // Baseline: serialize once, clone the bytes into each queue.
        let senders_receivers: Vec<(mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>)> =
            (0..n).map(|_| mpsc::channel(256)).collect();
        let (senders, mut receivers): (Vec<_>, Vec<_>) = senders_receivers.into_iter().unzip();
        group.bench_with_input(BenchmarkId::new("baseline", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let frame = Bytes::from(
                        serde_json::to_vec(&Envelope {
                            pkg_id: 100,
                            req_id: "00000000-0000-0000-0000-000000000000",
                            data: black_box(&EVENT),
                        })
                        .unwrap(),
                    );
                    let queued = senders
                        .iter()
                        .filter(|queue| queue.try_send(frame.clone()).is_ok())
                        .count();
                    total += start.elapsed();
                    assert_eq!(queued, n);
                    for queue in &mut receivers {
                        while queue.try_recv().is_ok() {}
                    }
                }
                total
            });
        });

        let hub = connections(n);
        group.bench_with_input(BenchmarkId::new("hub", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let queued = hub.hub.broadcast(100u32, black_box(&EVENT)).unwrap();
                    // The writer of each connection sends this frame, built once per push.
                    if let Some(push) = hub.connections[0].take_pushes().first() {
                        black_box(push.json_frame());
                    }
                    total += start.elapsed();
                    assert_eq!(queued, n);
                    drain(&hub.connections);
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
