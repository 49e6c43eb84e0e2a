//! Three nodes, each a hub and an axum server with its own `RedisCluster`, one real
//! `redis-server`, real WebSocket clients over loopback: what the "multi-node" means,
//! end to end. A fourth node runs in a child process (this test binary again, running only the
//! ignored `node_child` test) so that it can be killed with SIGKILL.
//!
//! Skipped with a banner only when `redis-server` is absent and `CI` is unset.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use futures_util::{SinkExt, StreamExt};
use pkg_router::hub::{CloseReason, ConnectionInfo, Target, close_code};
use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, RateLimit, WsConfig};
use pkg_router::{Data, HandlerError, Hub, Principal, Router};
use pkg_router_redis::test_server::RedisServer;
use pkg_router_redis::{BackendState, RedisCluster, RedisConfig};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// The longest any condition may take to come true (a hang guard, not a measurement).
const GUARD: Duration = Duration::from_secs(10);
/// The pushes' pkg_id.
const NOTE: u32 = 100;
/// Requests: push to a target, join a room, kick a principal, ping.
const PUBLISH: u32 = 1;
const JOIN: u32 = 2;
const KICK: u32 = 3;
const PING: u32 = 4;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Token `name` or `name:role,role`.
struct Tokens;

impl Authenticator for Tokens {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        let (name, roles) = token.split_once(':').unwrap_or((token, ""));
        let principal =
            Principal::new(name, name).with_roles(roles.split(',').filter(|r| !r.is_empty()));
        Box::pin(async move { Ok::<_, AuthError>(principal) })
    }
}

fn target(value: &Value) -> Result<Target, HandlerError> {
    let bad = || HandlerError::invalid_field("/target", "all, {principal}, {roles} or {room}");
    if value == "all" {
        return Ok(Target::All);
    }
    if let Some(id) = value["principal"].as_str() {
        return Ok(Target::principal(id));
    }
    if let Some(room) = value["room"].as_str() {
        return Ok(Target::room(room));
    }
    let roles = value["roles"].as_array().ok_or_else(bad)?;
    Ok(Target::roles(roles.iter().filter_map(Value::as_str)))
}

async fn publish(Data(data): Data<Value>, hub: Hub) -> Result<&'static str, HandlerError> {
    hub.to(target(&data["target"])?).push(NOTE, &data["text"])?;
    Ok("sent")
}

async fn join(
    Data(data): Data<Value>,
    hub: Hub,
    connection: ConnectionInfo,
) -> Result<bool, HandlerError> {
    Ok(hub.join(connection.id, data["room"].as_str().unwrap_or_default()))
}

async fn kick(Data(data): Data<Value>, hub: Hub) -> Result<usize, HandlerError> {
    let principal = data["principal"].as_str().unwrap_or_default();
    Ok(hub.close_principal(principal, CloseReason::new(close_code::POLICY, "kicked")))
}

async fn ping() -> Result<&'static str, HandlerError> {
    Ok("pong")
}

fn config(redis_url: &str) -> RedisConfig {
    RedisConfig::new(redis_url)
        .unwrap()
        .prefix("cluster-test")
        .heartbeat(Duration::from_millis(50))
        .reconnect_max_delay(Duration::from_millis(100))
        .command_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
}

fn ws_config() -> WsConfig {
    let mut ws = WsConfig::default();
    ws.rate_limit = None;
    ws
}

/// A node: its cluster link, hub and server.
struct Node {
    cluster: RedisCluster,
    hub: Hub,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    async fn start(config: RedisConfig, ws: WsConfig) -> Node {
        let cluster = RedisCluster::new(config).unwrap();
        let hub = Hub::with_backend(cluster.backend());
        let router = Router::builder()
            .hub(hub.clone())
            .handler(PUBLISH, publish)
            .handler(JOIN, join)
            .handler(KICK, kick)
            .handler(PING, ping)
            .build()
            .unwrap();
        let endpoint = Endpoint::new(router, ws)
            .with_authenticator(Tokens)
            .with_shared_limits(cluster.limits());
        let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = pkg_router::axum::serve(listener, app, hub.clone())
            .with_shutdown_signal(std::future::pending());
        let task = tokio::spawn(async move { serve.await.unwrap() });
        Node {
            cluster,
            hub,
            addr,
            task,
        }
    }

    fn state(&self) -> BackendState {
        self.cluster.health().state
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn three(
    redis: &RedisServer,
    change: impl Fn(RedisConfig) -> RedisConfig,
    ws: WsConfig,
) -> [Node; 3] {
    let nodes = [
        Node::start(change(config(&redis.url())), ws.clone()).await,
        Node::start(change(config(&redis.url())), ws.clone()).await,
        Node::start(change(config(&redis.url())), ws).await,
    ];
    up(&nodes.iter().collect::<Vec<_>>()).await;
    nodes
}

async fn up(nodes: &[&Node]) {
    until("every node is up", || {
        nodes.iter().all(|n| n.state() == BackendState::Up)
    })
    .await;
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + GUARD;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A WebSocket client with what it has received so far.
struct User {
    ws: Client,
    /// The `data` of every push received, as JSON text, in order.
    notes: Vec<String>,
}

/// The first frame after the auth frame: `auth_ok`, or the close (code, reason).
async fn try_login(addr: SocketAddr, token: &str) -> Result<User, (u16, String)> {
    let (mut ws, _) = connect_async(format!("ws://{addr}/web")).await.unwrap();
    let auth = json!({"type": "auth", "token": format!("Bearer {token}")});
    ws.send(Message::text(auth.to_string())).await.unwrap();
    let mut user = User {
        ws,
        notes: Vec::new(),
    };
    match user.next().await {
        Ok(frame) if frame == json!({"type": "auth_ok"}) => Ok(user),
        Ok(frame) => panic!("unexpected first frame {frame}"),
        Err(close) => Err(close),
    }
}

async fn login(addr: SocketAddr, token: &str) -> User {
    try_login(addr, token)
        .await
        .unwrap_or_else(|close| panic!("{token} refused: {close:?}"))
}

impl User {
    /// The next text frame, or the close frame's (code, reason) when the server closed.
    async fn next(&mut self) -> Result<Value, (u16, String)> {
        loop {
            let message = tokio::time::timeout(GUARD, self.ws.next())
                .await
                .expect("a frame within the guard time");
            match message {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    }));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err((1006, String::new())),
            }
        }
    }

    /// Sends a request and returns its response, keeping the pushes that came before it.
    async fn call(&mut self, pkg_id: u32, data: Value) -> Value {
        let req_id = uuid::Uuid::new_v4().to_string();
        let request = json!({"pkg_id": pkg_id, "req_id": req_id, "data": data});
        self.ws
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
        loop {
            let frame = self.next().await.expect("a response, not a close");
            if frame["req_id"] == req_id.as_str() {
                return frame;
            }
            self.keep(frame);
        }
    }

    fn keep(&mut self, frame: Value) {
        assert_eq!(frame["pkg_id"], NOTE, "only pushes arrive unasked: {frame}");
        self.notes.push(frame["data"].to_string());
    }

    /// Reads pushes until one with `text` arrives; returns every push's text so far.
    async fn until_note(&mut self, text: &str) -> &[String] {
        let wanted = json!(text).to_string();
        while !self.notes.contains(&wanted) {
            let frame = self.next().await.expect("a push, not a close");
            self.keep(frame);
        }
        &self.notes
    }

    /// Reads pushes until every one of `texts` has arrived; returns every push's text so far.
    async fn until_notes(&mut self, texts: &[&str]) -> &[String] {
        for text in texts {
            self.until_note(text).await;
        }
        &self.notes
    }

    /// Reads until the server closes; its (code, reason).
    async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next().await {
                Ok(frame) => self.keep(frame),
                Err(close) => return close,
            }
        }
    }
}

fn texts(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| json!(t).to_string()).collect()
}

async fn send(user: &mut User, target: Value, text: &str) {
    let answer = user
        .call(PUBLISH, json!({"target": target, "text": text}))
        .await;
    assert_eq!(answer["data"], "sent", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_reaches_every_node_exactly_once_without_echo_and_kicks_cross_nodes() {
    let Some(redis) = RedisServer::start_or_skip("cluster: every target") else {
        return;
    };
    let [a, b, c] = three(&redis, |c| c, ws_config()).await;
    let mut sam = login(a.addr, "sam").await; // the sender, on A
    let mut ann_a = login(a.addr, "ann:reader").await;
    let mut ann_b = login(b.addr, "ann:reader").await;
    let mut bob_b = login(b.addr, "bob:admin").await;
    let mut cat_c = login(c.addr, "cat:reader,admin").await;
    let mut dan_c = login(c.addr, "dan").await;
    let mut eve_a = login(a.addr, "eve").await;
    for (user, room) in [(&mut dan_c, "lobby"), (&mut eve_a, "lobby")] {
        assert_eq!(user.call(JOIN, json!({"room": room})).await["data"], true);
    }

    send(&mut sam, json!({"principal": "ann"}), "to ann").await;
    send(&mut sam, json!({"roles": ["admin"]}), "to admins").await;
    send(&mut sam, json!({"roles": ["reader"]}), "to readers").await;
    send(&mut sam, json!({"room": "lobby"}), "to lobby").await;
    send(&mut sam, json!("all"), "to all").await;
    // The other way round: from C, to a principal on A and B.
    send(&mut cat_c, json!({"principal": "ann"}), "from C").await;
    // A last push to everyone from each sender: per-node order means everything a node sent
    // before it has arrived once it has (there is no order across nodes).
    send(&mut sam, json!("all"), "end A").await;
    send(&mut cat_c, json!("all"), "end C").await;

    let from_a = [
        "to ann",
        "to admins",
        "to readers",
        "to lobby",
        "to all",
        "end A",
    ];
    let expected = [
        (
            &mut ann_a,
            &["to ann", "to readers", "to all", "from C"][..],
        ),
        (&mut ann_b, &["to ann", "to readers", "to all", "from C"]),
        (&mut bob_b, &["to admins", "to all"]),
        (&mut cat_c, &["to admins", "to readers", "to all"]),
        (&mut dan_c, &["to lobby", "to all"]),
        (&mut eve_a, &["to lobby", "to all"]),
        (&mut sam, &["to all"]),
    ];
    for (user, want) in expected {
        let notes = user.until_notes(&["end A", "end C"]).await.to_vec();
        let want: Vec<&str> = want.iter().copied().chain(["end A", "end C"]).collect();
        // Each once, in the order its node sent it.
        let mut sorted = notes.clone();
        sorted.sort();
        let mut want_sorted = texts(&want);
        want_sorted.sort();
        assert_eq!(sorted, want_sorted, "each push once: {notes:?}");
        let a_texts = texts(&from_a);
        let in_order: Vec<&String> = notes.iter().filter(|t| a_texts.contains(t)).collect();
        let want_order = texts(
            &want
                .iter()
                .copied()
                .filter(|t| from_a.contains(t))
                .collect::<Vec<_>>(),
        );
        assert_eq!(in_order, want_order.iter().collect::<Vec<_>>(), "A's order");
    }
    // Nothing more comes: after several heartbeat rounds, a request's answer overtakes no
    // late copy (a push that arrives before the answer is kept, and would be counted).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for user in [
        &mut ann_a, &mut ann_b, &mut bob_b, &mut cat_c, &mut dan_c, &mut eve_a, &mut sam,
    ] {
        let before = user.notes.len();
        assert_eq!(user.call(PING, json!({})).await["data"], "pong");
        assert_eq!(user.notes.len(), before, "a late copy: {:?}", user.notes);
    }
    for node in [&a, &b, &c] {
        let health = node.cluster.health();
        assert_eq!((health.missed, health.dropped), (0, 0), "{health:?}");
    }
    assert!(a.cluster.health().received >= 1, "C's push reached A");

    // A kick from A closes ann on A and on B, nobody else.
    let kicked = sam.call(KICK, json!({"principal": "ann"})).await;
    assert_eq!(kicked["data"], 1, "one local connection closed at once");
    let kick = (close_code::POLICY, "kicked".to_owned());
    assert_eq!(ann_a.closed().await, kick);
    assert_eq!(ann_b.closed().await, kick);
    send(&mut sam, json!("all"), "after kick").await;
    for user in [&mut bob_b, &mut cat_c, &mut dan_c, &mut eve_a] {
        user.until_note("after kick").await;
    }
    until("ann is gone from every hub", || {
        [&a, &b, &c]
            .iter()
            .map(|n| n.hub.connection_count())
            .sum::<usize>()
            == 5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_and_rate_limits_hold_across_the_cluster() {
    let Some(redis) = RedisServer::start_or_skip("cluster: limits") else {
        return;
    };
    let mut ws = ws_config();
    ws.max_connections_per_principal = 2;
    ws.rate_limit = Some(RateLimit::new(3, Duration::from_secs(60)));
    let [a, b, c] = three(&redis, |c| c.share_rate_limit(true), ws).await;

    // Two slots for carol in the whole cluster: the third connection is refused on any node.
    let carol_a = login(a.addr, "carol").await;
    let _carol_b = login(b.addr, "carol").await;
    let too_many = (
        close_code::POLICY,
        "Maximum concurrent connections exceeded".to_owned(),
    );
    assert_eq!(
        try_login(c.addr, "carol").await.err(),
        Some(too_many.clone())
    );
    assert_eq!(try_login(a.addr, "carol").await.err(), Some(too_many));
    // A closed connection frees its slot for every node.
    drop(carol_a);
    let deadline = Instant::now() + GUARD;
    let _carol_c = loop {
        match try_login(c.addr, "carol").await {
            Ok(user) => break user,
            Err(_) => assert!(Instant::now() < deadline, "the slot was never released"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Three requests a minute for rita, wherever she sends them.
    let mut rita = [login(a.addr, "rita").await, login(b.addr, "rita").await];
    let mut answers = Vec::new();
    for (n, node) in [0, 1, 0, 1].into_iter().enumerate() {
        let answer = rita[node].call(PING, json!({"n": n})).await;
        answers.push(answer["data"]["code"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(answers, ["ok", "ok", "ok", "rate_limited"]);
    // Another principal has its own budget.
    let mut sam = login(c.addr, "sam").await;
    assert_eq!(sam.call(PING, json!({})).await["data"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_redis_keeps_local_delivery_and_resumes_remote_without_duplicates() {
    let Some(mut redis) = RedisServer::start_or_skip("cluster: redis restarted") else {
        return;
    };
    let [a, b, c] = three(&redis, |c| c, ws_config()).await;
    let mut on_a = login(a.addr, "ann").await;
    let mut on_b = login(b.addr, "bob").await;
    let mut on_c = login(c.addr, "cat").await;
    send(&mut on_a, json!("all"), "before").await;
    on_b.until_note("before").await;
    on_c.until_note("before").await;

    redis.kill();
    until("A sees the outage", || a.state() == BackendState::Down).await;
    // Local delivery goes on: the sender's node delivers at once, in handlers too.
    send(&mut on_a, json!("all"), "during A").await;
    assert_eq!(
        on_a.until_note("during A").await,
        texts(&["before", "during A"])
    );
    send(&mut on_b, json!("all"), "during B").await;
    assert_eq!(
        on_b.until_note("during B").await,
        texts(&["before", "during B"])
    );

    redis.restart();
    up(&[&a, &b, &c]).await;
    send(&mut on_a, json!("all"), "after A").await;
    send(&mut on_b, json!("all"), "after B").await;
    for (user, own) in [
        (&mut on_a, "during A"),
        (&mut on_b, "during B"),
        (&mut on_c, ""),
    ] {
        let mut notes = user.until_notes(&["after A", "after B"]).await.to_vec();
        // Before, its own node's outage push, then the two "after" in either order.
        let tail = notes.split_off(notes.len() - 2);
        let head: Vec<&str> = ["before", own]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        assert_eq!(notes, texts(&head), "no replay, no duplicate");
        let mut tail_sorted = tail.clone();
        tail_sorted.sort();
        assert_eq!(tail_sorted, texts(&["after A", "after B"]), "{tail:?}");
    }
    assert!(b.cluster.health().resubscribes >= 1);
    assert!(
        a.cluster.health().dropped >= 1,
        "the outage's push was counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_never_blocks_a_handler_or_a_login() {
    let Some(mut redis) = RedisServer::start_or_skip("cluster: redis paused") else {
        return;
    };
    let mut ws = ws_config();
    ws.rate_limit = Some(RateLimit::new(10_000, Duration::from_secs(60)));
    // A long command timeout: were a handler to wait on Redis, it would wait that long.
    let [a, b, _c] = three(
        &redis,
        |c| {
            c.share_rate_limit(true)
                .command_timeout(Duration::from_secs(60))
                .limit_timeout(Duration::from_millis(50))
        },
        ws,
    )
    .await;
    let mut on_a = login(a.addr, "ann").await;
    let mut on_b = login(b.addr, "bob").await;
    redis.pause();
    // Every request (a broadcast each, after a shared rate-limit check that fails open at its
    // 50 ms timeout) is answered, and its push delivered here.
    for n in 0..20 {
        send(&mut on_a, json!("all"), &format!("paused {n}")).await;
    }
    assert_eq!(
        on_a.until_note("paused 19").await.len(),
        20,
        "local delivery"
    );
    // A new connection is admitted too (the shared slot check falls back to the node's).
    let mut late = login(a.addr, "cat").await;
    assert_eq!(late.call(PING, json!({})).await["data"], "pong");
    // Outlast max_publish_delay (1 s): whatever Redis delivers when it wakes up is stale.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    redis.resume();
    up(&[&a, &b]).await;
    send(&mut on_a, json!("all"), "resumed").await;
    assert_eq!(
        on_b.until_note("resumed").await,
        texts(&["resumed"]),
        "pushes of the stall arrived late"
    );
}

// ---- a node killed with SIGKILL: a child process ----------------------------------------

const CHILD_REDIS: &str = "PKG_ROUTER_REDIS_CHILD_URL";
const LEASE: Duration = Duration::from_millis(1500);

fn limit_config(ws: &mut WsConfig) {
    ws.max_connections_per_principal = 2;
}

/// The node of `a_killed_node_frees_its_connection_slots_within_the_lease_time`, run as its
/// child process. Ignored in normal runs (it serves until killed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the node of a_killed_node_frees_its_connection_slots, run as its child process"]
async fn node_child() {
    let Ok(url) = std::env::var(CHILD_REDIS) else {
        return;
    };
    let mut ws = ws_config();
    limit_config(&mut ws);
    let node = Node::start(config(&url).lease_ttl(LEASE), ws).await;
    up(&[&node]).await;
    println!("LISTENING {}", node.addr);
    std::future::pending::<()>().await;
}

struct ChildNode(Child);

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_child(url: &str) -> (ChildNode, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["node_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_REDIS, url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = ChildNode(child);
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
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_frees_its_connection_slots_within_the_lease_time() {
    let Some(redis) = RedisServer::start_or_skip("cluster: node killed") else {
        return;
    };
    let mut ws = ws_config();
    limit_config(&mut ws);
    let a = Node::start(config(&redis.url()).lease_ttl(LEASE), ws).await;
    up(&[&a]).await;
    let (mut child, child_addr) = start_child(&redis.url());

    // dora's two slots: one on the child node, one on A (a live lease keeps her key alive in
    // Redis, so only the dead node's own lease can expire). Both held across refreshes.
    let _on_child = login(child_addr, "dora").await;
    let _on_a = login(a.addr, "dora").await;
    tokio::time::sleep(LEASE * 2).await;
    let too_many = (
        close_code::POLICY,
        "Maximum concurrent connections exceeded".to_owned(),
    );
    assert_eq!(try_login(a.addr, "dora").await.err(), Some(too_many));

    // SIGKILL: no close, no release; the slots expire with their leases.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let killed = Instant::now();
    let deadline = killed + GUARD;
    loop {
        if try_login(a.addr, "dora").await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dead node's slots never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let freed = killed.elapsed();
    // Within the lease time (and the refresh that may have just happened), not later.
    assert!(
        freed <= LEASE + Duration::from_secs(1),
        "freed after {freed:?}"
    );
}
