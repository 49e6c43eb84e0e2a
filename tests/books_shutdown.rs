//! SIGTERM to the books server, as a container platform stops it: 20 clients with 40 creates
//! each in flight; every create is either answered or never run, every client gets a 1001
//! close frame and an orderly end (no reset), the process exits 0, and after a restart on the
//! same database exactly the answered creates are there.
//!
//! The server runs in a child process: this test binary again, running only the ignored
//! `books_server_child` test, which starts the books app on the database it is given and
//! returns when the server's shutdown completes.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod books_app;
mod support;

use books_app::app;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{Client, authenticate};
use tokio_tungstenite::tungstenite::{self, Message};

const CLIENTS: usize = 20;
const CREATES_PER_CLIENT: usize = 40;
/// Creates each client keeps in flight.
const WINDOW: usize = 8;
const DB_ENV: &str = "BOOKS_SHUTDOWN_TEST_DB";

/// The server half, run by `start_child`. Ignored in normal runs (it serves until a signal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the server of books_sigterm_loses_nothing, run as its child process"]
async fn books_server_child() {
    let Ok(db) = std::env::var(DB_ENV) else {
        return;
    };
    let running = app::start(books_app::settings(PathBuf::from(db)))
        .await
        .unwrap();
    println!("LISTENING {}", running.addr);
    // Resolves after SIGTERM once the shutdown is complete; the process then exits 0.
    running.server.await.unwrap().unwrap();
}

struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    fn start(db: &Path) -> ChildServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["books_server_child", "--exact", "--ignored", "--nocapture"])
            .env(DB_ENV, db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the child ended before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("LISTENING ") {
                break addr.parse().unwrap();
            }
        };
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ChildServer { child, addr }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit (at most `limit`, else kills it and fails).
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    /// Titles of creates answered OK.
    created: Vec<String>,
    /// Answers that were not OK (none expected).
    failed: Vec<Value>,
    /// The close frame's code.
    close: Option<u16>,
    /// How the connection ended after the close frame: `None` for an orderly end.
    error: Option<String>,
}

async fn run_client(
    addr: SocketAddr,
    n: usize,
    answered: tokio::sync::mpsc::UnboundedSender<()>,
) -> (Vec<String>, Seen) {
    let url = format!("ws://{addr}/web");
    let (mut client, _): (Client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let token = app::web::mint(
        app::DEV_SECRET,
        &format!("writer-{n}"),
        &["create-book".to_owned()],
        Duration::from_secs(300),
    )
    .unwrap();
    authenticate(&mut client, &token).await;
    // A busy client: `WINDOW` creates in flight, a new one sent for each answer, until the
    // server's close frame. Some therefore arrive after the server stopped reading.
    let mut sent = Vec::new();
    while sent.len() < WINDOW {
        send_create(&mut client, n, &mut sent).await;
    }
    let mut seen = Seen::default();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(60), client.next())
            .await
            .expect("nothing from the server for 60 s");
        match next {
            Some(Ok(Message::Text(text))) => {
                let answer: Value = serde_json::from_str(&text).unwrap();
                if answer["pkg_id"] != app::ids::PkgID::CREATE_BOOK.id() {
                    continue; // a push (BOOK_CREATED)
                }
                if answer["status_code"] == 0 {
                    seen.created
                        .push(answer["data"]["title"].as_str().unwrap().to_owned());
                    let _ = answered.send(());
                } else {
                    seen.failed.push(answer);
                }
                if sent.len() < CREATES_PER_CLIENT {
                    send_create(&mut client, n, &mut sent).await;
                }
            }
            Some(Ok(Message::Close(frame))) => {
                seen.close = frame.map(|f| u16::from(f.code));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                seen.error = Some(format!("before the close frame: {err}"));
                return (sent, seen);
            }
            None => {
                seen.error = Some("ended without a close frame".into());
                return (sent, seen);
            }
        }
    }
    // tungstenite answered the close frame; the server now ends the TCP connection.
    match tokio::time::timeout(Duration::from_secs(30), client.next()).await {
        Ok(None | Some(Err(tungstenite::Error::ConnectionClosed))) => {}
        Ok(other) => seen.error = Some(format!("after the close frame: {other:?}")),
        Err(_) => seen.error = Some("the server did not end the connection".into()),
    }
    (sent, seen)
}

async fn send_create(client: &mut Client, n: usize, sent: &mut Vec<String>) {
    let title = format!("sigterm-{n}-{}", sent.len());
    let frame = json!({
        "pkg_id": app::ids::PkgID::CREATE_BOOK.id(),
        "req_id": uuid::Uuid::new_v4().to_string(),
        "data": {"title": title, "author_id": 1},
    });
    client.send(Message::text(frame.to_string())).await.unwrap();
    sent.push(title);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_sigterm_loses_nothing() {
    let db = std::env::temp_dir().join(format!("books-sigterm-{}.db", uuid::Uuid::new_v4()));
    let _cleanup = RemoveOnDrop(db.clone());
    let mut server = ChildServer::start(&db);

    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(run_client(server.addr, n, answered.clone())))
        .collect();
    drop(answered);
    // SIGTERM while most creates are still queued or running.
    for _ in 0..50 {
        answers
            .recv()
            .await
            .expect("clients ended before 50 answers");
    }
    server.signal("TERM");

    let mut created = BTreeSet::new();
    let mut sent = 0;
    for client in clients {
        let (titles, seen) = client.await.unwrap();
        sent += titles.len();
        assert_eq!(seen.close, Some(1001), "{seen:?}");
        assert_eq!(seen.error, None, "{seen:?}");
        assert!(seen.failed.is_empty(), "{:?}", seen.failed);
        created.extend(seen.created);
    }
    let status = server.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    assert!(created.len() >= 50 && created.len() <= sent);
    println!(
        "{} of {sent} creates answered before the 1001",
        created.len()
    );

    // Restart on the same database: exactly the answered creates are there.
    let restarted = ChildServer::start(&db);
    let stored = app::db::Db::open(&db).await.unwrap();
    let titles: Vec<(String,)> =
        sqlx::query_as("SELECT title FROM books WHERE title LIKE 'sigterm-%'")
            .fetch_all(&stored.pool)
            .await
            .unwrap();
    let stored: BTreeSet<String> = titles.into_iter().map(|(t,)| t).collect();
    let lost: Vec<_> = created.difference(&stored).collect();
    let unanswered: Vec<_> = stored.difference(&created).collect();
    assert!(lost.is_empty(), "answered but not stored: {lost:?}");
    assert!(
        unanswered.is_empty(),
        "stored but never answered: {unanswered:?}"
    );
    drop(restarted);
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}
