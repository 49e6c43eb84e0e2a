//! A bounded soak test of the books example, in-process: rounds of connection churn (workers
//! calling the API, slow readers that never read their pushes, clients that vanish mid-request
//! or never authenticate, clients sending malformed frames and closing properly), after which
//! the process's resident memory and open file descriptors must come back near where they were.
//!
//! Ignored by default (a minute or two): `cargo test --test soak -- --ignored --nocapture`.
//! `SOAK_ROUNDS` (default 150) and `SOAK_CLIENTS` (per round, default 32) scale it. The bounds and
//! the figures of a run are in TESTING.md.
#![allow(clippy::unwrap_used, unreachable_pub)] // a failed unwrap is a failed test

mod books_app;
mod support;

use books_app::Books;
use books_app::app::ids::PkgID;
use futures_util::SinkExt;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Client, authenticate, call, send_json};
use tokio_tungstenite::tungstenite::Message;

/// Growth of open file descriptors allowed between the baseline and the end. Some fds open
/// once and stay (a CI run went from 31 to 38, then flat for 50 rounds); a leak of one fd per
/// connection would be thousands over the run. See also [`MAX_FD_GROWTH_SECOND_HALF`].
const MAX_FD_GROWTH: i64 = 16;
/// Growth allowed over the second half of the rounds: a leak grows with the rounds, a pool
/// that reached its working size does not.
const MAX_FD_GROWTH_SECOND_HALF: i64 = 8;
/// Growth of resident memory allowed between the baseline and the end, in KiB: the database and
/// SQLite's page cache grow with the rows the rounds create; a leak of the connections' buffers
/// and tasks does not fit in it.
const MAX_RSS_GROWTH_KIB: i64 = 8 * 1024;
/// Rounds run before the baseline, so allocator arenas, pools and caches reach their working size.
const WARM_UP_ROUNDS: usize = 3;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's resident memory in KiB and its open file descriptors.
fn usage() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as i64;
    (rss, fds)
}

fn token(user: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    books_app::app::web::mint(
        books_app::app::DEV_SECRET,
        user,
        &roles,
        Duration::from_secs(600),
    )
    .unwrap()
}

async fn connect(books: &Books, receive_buffer: Option<u32>) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let stream = socket.connect(books.running.addr).await.unwrap();
    let url = format!("ws://{}/web", books.running.addr);
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    tokio_tungstenite::client_async(url, stream)
        .await
        .unwrap()
        .0
}

/// Calls the API: authors, a page of books with their authors, creates, server info; closes.
async fn worker(books: &Books, round: usize, n: usize) {
    let mut client = connect(books, None).await;
    let roles = ["get-authors", "view-books", "create-book"];
    authenticate(&mut client, &token(&format!("worker-{n}"), &roles)).await;
    for i in 0..4 {
        let authors = call(&mut client, PkgID::GET_AUTHORS.id(), json!({})).await;
        assert!(authors.is_ok(), "{authors:?}");
        let page = json!({"per_page": 5, "page": 1 + i % 3, "eager_load": ["author"]});
        let books_page = call(&mut client, PkgID::GET_BOOKS.id(), page).await;
        assert!(books_page.is_ok(), "{books_page:?}");
        let title = format!("Soak {round}-{n}-{i} {}", "x".repeat(120));
        let created = call(
            &mut client,
            PkgID::CREATE_BOOK.id(),
            json!({"title": title, "author_id": 1 + (n % 3)}),
        )
        .await;
        assert!(created.is_ok(), "{created:?}");
        let info = call(&mut client, PkgID::SERVER_INFO.id(), json!({})).await;
        assert!(info.is_ok(), "{info:?}");
    }
    client.close(None).await.unwrap();
}

/// Sends malformed frames and a binary frame (fewer than the malformed limit), then closes.
async fn malformed(books: &Books, n: usize) {
    let mut client = connect(books, None).await;
    authenticate(&mut client, &token(&format!("odd-{n}"), &["get-authors"])).await;
    for frame in ["{not json", "[1, 2]", r#"{"pkg_id": "1"}"#] {
        client.send(Message::text(frame)).await.unwrap();
    }
    client
        .send(Message::binary(vec![8u8, 1, 2, 3]))
        .await
        .unwrap();
    let info = call(&mut client, PkgID::GET_AUTHORS.id(), json!({})).await;
    assert!(info.is_ok(), "{info:?}");
    client.close(None).await.unwrap();
}

/// Authenticates, sends requests without reading the answers, and vanishes (no close frame).
async fn vanish(books: &Books, n: usize) {
    let mut client = connect(books, None).await;
    if n.is_multiple_of(2) {
        let roles = ["get-authors", "view-books"];
        authenticate(&mut client, &token(&format!("gone-{n}"), &roles)).await;
        for _ in 0..3 {
            let request = json!({"pkg_id": PkgID::GET_BOOKS.id(), "req_id": uuid::Uuid::new_v4(), "data": {}});
            send_json(&mut client, &request).await;
        }
    }
    // Odd ones never authenticate.
    drop(client);
}

/// One round: workers, malformed senders and vanishing clients run while slow readers (small
/// receive buffers, never reading) collect pushes; then everyone is gone.
async fn round(books: &Arc<Books>, round: usize, clients: usize) {
    let mut slow = Vec::new();
    for n in 0..clients / 4 {
        let mut client = connect(books, Some(4096)).await;
        authenticate(&mut client, &token(&format!("slow-{n}"), &["view-books"])).await;
        slow.push(client);
    }
    let mut tasks = Vec::new();
    for n in 0..clients - clients / 4 {
        let books = Arc::clone(books);
        tasks.push(tokio::spawn(async move {
            match n % 3 {
                0 => worker(&books, round, n).await,
                1 => malformed(&books, n).await,
                _ => vanish(&books, n).await,
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    drop(slow);
    // Every connection leaves the hub (the server notices each close or reset).
    let deadline = Instant::now() + Duration::from_secs(30);
    while books.running.hub.connection_count() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} connections still open after round {round}",
            books.running.hub.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak test of a minute or more: cargo test --test soak -- --ignored"]
async fn soak_returns_memory_and_fds() {
    let rounds = env_number("SOAK_ROUNDS", 150);
    let clients = env_number("SOAK_CLIENTS", 32).max(4);
    let books = Arc::new(Books::start_with(|settings| settings.ws.outbound_queue = 32).await);
    let started = Instant::now();
    let mut baseline = None;
    let mut half_fds = None;
    for r in 0..WARM_UP_ROUNDS + rounds {
        round(&books, r, clients).await;
        if r + 1 == WARM_UP_ROUNDS {
            // The SQLite pool opens connections as the load needs them, up to its maximum,
            // each with fds of its own (a run here went from 31 to 38 over 150 rounds, flat
            // after): open them all before the baseline, so that only a leak counts.
            let pool = &books.running.db.pool;
            let mut held = Vec::new();
            for _ in 0..pool.options().get_max_connections() {
                held.push(pool.acquire().await.unwrap());
            }
            drop(held);
        }
        let (rss, fds) = usage();
        eprintln!(
            "round {r:>3}: rss {rss:>7} KiB, fds {fds:>4}, {:>6.1} s",
            started.elapsed().as_secs_f64()
        );
        if r + 1 == WARM_UP_ROUNDS {
            baseline = Some((rss, fds));
        }
        if r == WARM_UP_ROUNDS + rounds / 2 {
            half_fds = Some(fds);
        }
    }
    let (base_rss, base_fds) = baseline.unwrap();
    let (rss, fds) = usage();
    eprintln!(
        "soak: {rounds} rounds of {clients} clients after {WARM_UP_ROUNDS} warm-up rounds; \
         rss {base_rss} -> {rss} KiB ({:+}), fds {base_fds} -> {fds} ({:+})",
        rss - base_rss,
        fds - base_fds
    );
    assert!(
        fds - base_fds <= MAX_FD_GROWTH,
        "open fds grew from {base_fds} to {fds}"
    );
    let half_fds = half_fds.unwrap_or(base_fds);
    assert!(
        fds - half_fds <= MAX_FD_GROWTH_SECOND_HALF,
        "open fds grew from {half_fds} to {fds} over the second half of the rounds"
    );
    assert!(
        rss - base_rss <= MAX_RSS_GROWTH_KIB,
        "resident memory grew from {base_rss} KiB to {rss} KiB"
    );
}
