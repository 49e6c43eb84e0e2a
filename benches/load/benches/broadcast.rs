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
use pkg_router::{CloseReason, Hub, Outbound, Registration};
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

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

/// `n` registered connections: their registrations and queues.
struct Connections {
    hub: Hub,
    _registrations: Vec<Registration>,
    queues: Vec<mpsc::Receiver<Outbound>>,
    _closes: Vec<watch::Receiver<Option<CloseReason>>>,
}

fn connections(n: usize) -> Connections {
    let hub = Hub::new();
    let mut registrations = Vec::with_capacity(n);
    let mut queues = Vec::with_capacity(n);
    let mut closes = Vec::with_capacity(n);
    for _ in 0..n {
        let (queue, outbound) = mpsc::channel(256);
        let (close, closed) = watch::channel(None);
        registrations.push(hub.register(None, 1, queue, close).unwrap());
        queues.push(outbound);
        closes.push(closed);
    }
    Connections {
        hub,
        _registrations: registrations,
        queues,
        _closes: closes,
    }
}

fn drain(queues: &mut [mpsc::Receiver<Outbound>]) {
    for queue in queues {
        while queue.try_recv().is_ok() {}
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

        let mut hub = connections(n);
        group.bench_with_input(BenchmarkId::new("hub", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let queued = hub.hub.broadcast(100u32, black_box(&EVENT)).unwrap();
                    // The writer of each connection sends this frame, built once per push.
                    if let Ok(Outbound::Push(push)) = hub.queues[0].try_recv() {
                        black_box(push.json_frame());
                    }
                    total += start.elapsed();
                    assert_eq!(queued, n);
                    drain(&mut hub.queues);
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
