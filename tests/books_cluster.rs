//! The books example on two nodes (`--redis`): two apps on one SQLite file and one real
//! `redis-server`. A create on node A reaches a page connected to node B, totals are never
//! stale on the other node (the shared count cache), the per-principal connection limit holds
//! across both, and `/health` shows the backend's state.
//!
//! Skipped with a banner only when `redis-server` is absent and `CI` is unset.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod books_app;
mod support;

use books_app::app;
use books_app::app::ids::PkgID;
use pkg_router::RspCode;
use pkg_router_redis::test_server::RedisServer;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{Client, authenticate, call, expect_close, next_json};

const GUARD: Duration = Duration::from_secs(10);

/// One node; dropping it stops its server.
struct Node(app::Running);

impl Drop for Node {
    fn drop(&mut self) {
        self.0.server.abort();
    }
}

async fn node(db: PathBuf, redis: &RedisServer) -> Node {
    let mut settings = books_app::settings(db);
    settings.ws.rate_limit = None;
    settings.ws.max_connections_per_principal = 2;
    settings.redis = Some(redis.url());
    Node(app::start(settings).await.unwrap())
}

fn token(user: &str, roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    app::web::mint(app::DEV_SECRET, user, &roles, Duration::from_secs(300)).unwrap()
}

async fn try_login(addr: SocketAddr, user: &str, roles: &[&str]) -> Client {
    let url = format!("ws://{addr}/web");
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let auth = json!({"type": "auth", "token": format!("Bearer {}", token(user, roles))});
    support::send_json(&mut client, &auth).await;
    client
}

async fn login(addr: SocketAddr, user: &str, roles: &[&str]) -> Client {
    let url = format!("ws://{addr}/web");
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    authenticate(&mut client, &token(user, roles)).await;
    client
}

async fn health(addr: SocketAddr) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

async fn until_up(addrs: &[SocketAddr]) {
    let deadline = Instant::now() + GUARD;
    for addr in addrs {
        while health(*addr).await["cluster"]["state"] != "up" {
            assert!(Instant::now() < deadline, "node {addr} never came up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn total(client: &mut Client) -> u64 {
    let response = call(client, PkgID::GET_BOOKS.id(), json!({"page": 1})).await;
    response.meta.unwrap().total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_books_nodes_share_pushes_totals_and_the_connection_limit() {
    let Some(redis) = RedisServer::start_or_skip("books on two nodes") else {
        return;
    };
    let db = std::env::temp_dir().join(format!("books-cluster-{}.db", uuid::Uuid::new_v4()));
    let a = node(db.clone(), &redis).await;
    let b = node(db.clone(), &redis).await;
    let (on_a, on_b) = (a.0.addr, b.0.addr);
    until_up(&[on_a, on_b]).await;
    assert_eq!(health(on_a).await["cluster"]["backend"], "redis");

    let writer_roles = ["view-books", "create-book", "delete-book", "admin"];
    let mut writer = login(on_a, "wren", &writer_roles).await;
    let mut page = login(on_b, "paige", &["view-books"]).await;
    // Both nodes cache the total first (in Redis, under its generation).
    let before = total(&mut page).await;
    assert_eq!(total(&mut writer).await, before);

    let created = call(
        &mut writer,
        PkgID::CREATE_BOOK.id(),
        json!({"title": "Written on A", "author_id": 1}),
    )
    .await;
    let id = created.data["id"].as_i64().unwrap();
    // The page on B sees the push of A's create...
    let push = next_json(&mut page).await;
    assert_eq!(push["pkg_id"], PkgID::BOOK_CREATED.id(), "{push}");
    assert_eq!(push["data"]["id"], id);
    // ...and B's total is not the one cached before the write.
    assert_eq!(total(&mut page).await, before + 1, "stale total on node B");
    assert_eq!(total(&mut writer).await, before + 1);

    // The other way round: a delete on B, the total on A.
    let mut remover = login(on_b, "rémi", &writer_roles).await;
    let deleted = call(&mut remover, PkgID::DELETE_BOOK.id(), json!({"id": id})).await;
    assert_eq!(deleted.status_code, RspCode::Ok, "{:?}", deleted.data);
    assert_eq!(total(&mut writer).await, before, "stale total on node A");

    // Two connections per principal in the whole cluster: wren has one on A, one more on B,
    // and a third is refused wherever it comes.
    let _second = login(on_b, "wren", &writer_roles).await;
    let mut third = try_login(on_a, "wren", &writer_roles).await;
    assert_eq!(
        expect_close(&mut third).await,
        Some((1008, "Maximum concurrent connections exceeded".to_owned()))
    );

    drop((a, b));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_health_has_no_cluster_and_one_node_runs_as_before() {
    let books = books_app::Books::start().await;
    let body = health(books.running.addr).await;
    assert_eq!(body["status"], "ok");
    assert!(body.get("cluster").is_none(), "{body}");
    assert!(books.running.cluster.is_none());
}
