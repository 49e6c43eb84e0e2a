//! The backend and the limits against a real `redis-server` (started per test on a free
//! loopback port; skipped with a banner only outside CI when the binary is absent).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::Hub;
use pkg_router::hub::{CloseReason, Target, close_code};
use pkg_router::testing::{TestConnection, TestHub};
use pkg_router::transport::{FailMode, LocalLimits, RateCheck, RateLimit, SharedLimits};
use pkg_router_redis::test_server::RedisServer;
use pkg_router_redis::{BackendState, CountLookup, RedisCluster, RedisConfig};
use std::time::{Duration, Instant};

/// The longest any condition may take to come true (a hang guard, not a measurement).
const GUARD: Duration = Duration::from_secs(10);

fn config(redis: &RedisServer) -> RedisConfig {
    RedisConfig::new(redis.url())
        .unwrap()
        .prefix("test")
        .heartbeat(Duration::from_millis(50))
        .reconnect_max_delay(Duration::from_millis(100))
        .command_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
}

/// A node: its cluster link and a hub over it.
struct Node {
    cluster: RedisCluster,
    hub: TestHub,
}

fn node(config: RedisConfig) -> Node {
    let cluster = RedisCluster::new(config).unwrap();
    let hub = TestHub::from(Hub::with_backend(cluster.backend()));
    Node { cluster, hub }
}

/// Waits until `done` holds; panics after [`GUARD`] with `what`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + GUARD;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn up(nodes: &[&Node]) {
    until("every node is up", || {
        nodes
            .iter()
            .all(|node| node.cluster.health().state == BackendState::Up)
    })
    .await;
}

fn texts(conn: &TestConnection) -> Vec<String> {
    conn.pushes()
        .iter()
        .map(|push| push.data_json().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_cross_nodes_once_in_order_and_never_echo() {
    let Some(redis) = RedisServer::start_or_skip("pushes_cross_nodes_once_in_order_and_never_echo")
    else {
        return;
    };
    let (a, b) = (node(config(&redis)), node(config(&redis)));
    up(&[&a, &b]).await;
    let on_a = a.hub.connect_as("ann", [] as [&str; 0]);
    let on_b = b.hub.connect_as("bob", [] as [&str; 0]);
    for n in 0..500 {
        a.hub.broadcast(100u32, &n).unwrap();
    }
    let expected: Vec<String> = (0..500).map(|n| n.to_string()).collect();
    until("node B has every push", || on_b.pushes().len() >= 500).await;
    // Nothing more comes: the heartbeat round trip proves the channel drained.
    let seen = a.cluster.health().published;
    until("a heartbeat after the pushes", || {
        b.cluster.health().received >= 500 && a.cluster.health().published == seen
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await; // three heartbeats
    assert_eq!(texts(&on_b), expected, "in order, once");
    assert_eq!(texts(&on_a), expected, "the sender's own, once (no echo)");
    assert_eq!(b.cluster.health().missed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_and_a_kick_reach_the_matching_connections_of_another_node() {
    let Some(redis) = RedisServer::start_or_skip("every_target_and_a_kick") else {
        return;
    };
    let (a, b) = (node(config(&redis)), node(config(&redis)));
    up(&[&a, &b]).await;
    let ann = b.hub.connect_as("ann", ["view-books"]);
    let ann_on_a = a.hub.connect_as("ann", ["view-books"]);
    let bob = b.hub.connect_as("bob", ["view-books", "admin"]);
    let eve = b.hub.connect_as("eve", [] as [&str; 0]);
    b.hub.join(eve.id(), "lobby");

    a.hub.to_principal("ann").push(101u32, "ann").unwrap();
    a.hub.to_roles(["admin"]).push(102u32, "admins").unwrap();
    a.hub
        .to_roles(["view-books"])
        .push(103u32, "readers")
        .unwrap();
    a.hub.to_room("lobby").push(104u32, "lobby").unwrap();
    a.hub.to(Target::All).push(105u32, "all").unwrap();
    a.hub
        .close_principal("eve", CloseReason::new(close_code::POLICY, "banned"));

    until("the kick arrives", || eve.closed().is_some()).await;
    assert_eq!(texts(&ann), [r#""ann""#, r#""readers""#, r#""all""#]);
    assert_eq!(texts(&bob), [r#""admins""#, r#""readers""#, r#""all""#]);
    assert_eq!(texts(&eve), [r#""lobby""#, r#""all""#]);
    assert_eq!(eve.closed(), Some(CloseReason::new(1008, "banned")));
    assert_eq!((ann.closed(), bob.closed()), (None, None));
    // The frame is forwarded byte for byte as the sender built it.
    assert_eq!(
        ann_on_a.pushes()[0].json_frame(),
        ann.pushes()[0].json_frame()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_drops_remote_pushes_keeps_local_ones_and_delivery_resumes_after_restart() {
    let Some(mut redis) = RedisServer::start_or_skip("a_killed_redis") else {
        return;
    };
    let (a, b) = (node(config(&redis)), node(config(&redis)));
    up(&[&a, &b]).await;
    let on_a = a.hub.connect_as("ann", [] as [&str; 0]);
    let on_b = b.hub.connect_as("bob", [] as [&str; 0]);
    a.hub.broadcast(100u32, "before").unwrap();
    until("the first push crosses", || on_b.pushes().len() == 1).await;

    redis.kill();
    until("node A sees the outage", || {
        a.cluster.health().state == BackendState::Down
    })
    .await;
    a.hub.broadcast(100u32, "during").unwrap();
    assert_eq!(on_a.pushes().len(), 2, "local delivery goes on");
    until("the push is counted as dropped", || {
        a.cluster.health().dropped >= 1
    })
    .await;

    redis.restart();
    up(&[&a, &b]).await;
    assert!(b.cluster.health().resubscribes >= 1);
    a.hub.broadcast(100u32, "after").unwrap();
    until("the push after the restart crosses", || {
        texts(&on_b).last().map(String::as_str) == Some(r#""after""#)
    })
    .await;
    assert_eq!(
        texts(&on_b),
        [r#""before""#, r#""after""#],
        "no replay, no duplicate"
    );
    assert_eq!(texts(&on_a), [r#""before""#, r#""during""#, r#""after""#]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_never_blocks_a_publish_and_late_pushes_are_not_replayed() {
    let Some(mut redis) = RedisServer::start_or_skip("a_paused_redis") else {
        return;
    };
    let (a, b) = (node(config(&redis)), node(config(&redis)));
    up(&[&a, &b]).await;
    let on_b = b.hub.connect_as("bob", [] as [&str; 0]);
    redis.pause();
    // More than the publish queue holds: every call returns at once, the rest is dropped.
    let hub = a.hub.hub().clone();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for n in 0..10_000 {
            hub.broadcast(100u32, &n).unwrap();
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(GUARD)
        .expect("10 000 broadcasts returned while redis was paused");
    until("the publisher gives up on the stalled batch", || {
        a.cluster.health().state == BackendState::Down
    })
    .await;
    // Outlast max_publish_delay (1 s): what waited is stale now.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    redis.resume();
    up(&[&a, &b]).await;
    a.hub.broadcast(100u32, "fresh").unwrap();
    until("the fresh push crosses", || {
        texts(&on_b).last().map(String::as_str) == Some(r#""fresh""#)
    })
    .await;
    let health = a.cluster.health();
    assert!(health.dropped > 0, "{health:?}");
    // Not even the batch in flight when Redis stopped (already written to its socket): the
    // receivers drop what arrives later than max_publish_delay.
    assert_eq!(texts(&on_b), [r#""fresh""#], "stale pushes were replayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_reopens_a_subscription_that_went_silent() {
    let Some(redis) = RedisServer::start_or_skip("the_watchdog") else {
        return;
    };
    let a = node(config(&redis));
    up(&[&a]).await;
    assert_eq!(a.cluster.health().resubscribes, 0);
    // Redis stops taking writes (PUBLISH) while the subscription connection stays open and
    // quiet: only the missing heartbeat tells.
    assert_eq!(redis.command("CLIENT PAUSE 1500 WRITE").unwrap(), "+OK");
    until("the watchdog reopened the subscription", || {
        a.cluster.health().resubscribes >= 1
    })
    .await;
    up(&[&a]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_leases_are_shared_released_and_expire_when_not_refreshed() {
    let Some(redis) = RedisServer::start_or_skip("connection_leases") else {
        return;
    };
    let ttl = Duration::from_millis(600);
    let a = RedisCluster::new(config(&redis).lease_ttl(ttl)).unwrap();
    let b = RedisCluster::new(config(&redis).lease_ttl(ttl)).unwrap();
    let (la, lb) = (a.limits(), b.limits());
    let first = la.acquire_connection("ann", 2).await.unwrap();
    let second = lb.acquire_connection("ann", 2).await.unwrap();
    assert!(first.is_some() && second.is_some());
    assert!(la.acquire_connection("ann", 2).await.unwrap().is_none());
    assert!(lb.acquire_connection("bob", 2).await.unwrap().is_some());

    // Released on drop.
    drop(second);
    until_async("the released slot is free", || async {
        lb.acquire_connection("ann", 2).await.unwrap().is_some()
    })
    .await;

    // Refreshed while held: still taken after several lease times.
    tokio::time::sleep(ttl * 3).await;
    assert!(la.acquire_connection("ann", 1).await.unwrap().is_none());

    // A node that dies stops refreshing: its slots expire within the lease time.
    std::mem::forget(first); // no release, as after SIGKILL
    drop(la);
    drop(a);
    let died = Instant::now();
    until_async("the dead node's slot expired", || async {
        lb.acquire_connection("ann", 1).await.unwrap().is_some()
    })
    .await;
    assert!(died.elapsed() < ttl * 3, "{:?}", died.elapsed());
}

async fn until_async<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + GUARD;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_rate_limit_has_the_local_limiters_semantics() {
    let Some(redis) = RedisServer::start_or_skip("the_shared_rate_limit") else {
        return;
    };
    let cluster = RedisCluster::new(config(&redis).share_rate_limit(true)).unwrap();
    let shared = cluster.limits();
    assert!(shared.shares_rate_limit());
    let local = LocalLimits::new();
    let limit = RateLimit::new(3, Duration::from_secs(30));
    let mut pattern = Vec::new();
    for _ in 0..5 {
        let remote = shared.check_rate("ann", limit).await.unwrap();
        let here = local.check_rate("ann", limit).await.unwrap();
        pattern.push(matches!(remote, RateCheck::Allowed));
        assert_eq!(
            matches!(remote, RateCheck::Allowed),
            matches!(here, RateCheck::Allowed)
        );
        if let (RateCheck::Limited { retry_after: r }, RateCheck::Limited { retry_after: l }) =
            (remote, here)
        {
            // One message every 10 s: both say "about 10 s".
            assert!(r.abs_diff(l) < Duration::from_millis(500), "{r:?} vs {l:?}");
        }
    }
    assert_eq!(pattern, [true, true, true, false, false]);
    assert!(matches!(
        shared.check_rate("bob", limit).await.unwrap(),
        RateCheck::Allowed
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_the_fail_mode_when_redis_is_gone() {
    let Some(mut redis) = RedisServer::start_or_skip("limits_follow_the_fail_mode") else {
        return;
    };
    let open = RedisCluster::new(config(&redis)).unwrap().limits();
    let closed = RedisCluster::new(config(&redis).fail_mode(FailMode::Closed))
        .unwrap()
        .limits();
    assert_eq!(open.on_unavailable(), FailMode::Open);
    assert_eq!(closed.on_unavailable(), FailMode::Closed);
    redis.kill();
    // The store reports the failure; the transport applies the mode (tests/shared_limits.rs).
    assert!(open.acquire_connection("ann", 1).await.is_err());
    let limit = RateLimit::new(1, Duration::from_secs(1));
    assert!(open.check_rate("ann", limit).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_counts_are_invalidated_on_every_node_and_a_racing_count_is_never_served() {
    let Some(redis) = RedisServer::start_or_skip("shared_counts") else {
        return;
    };
    let a = RedisCluster::new(config(&redis)).unwrap().counts();
    let b = RedisCluster::new(config(&redis)).unwrap().counts();
    let ttl = Duration::from_secs(60);
    let CountLookup::Miss(generation) = a.lookup("books", "all").await.unwrap() else {
        panic!("nothing cached yet")
    };
    a.store("books", "all", generation, 4, ttl).await.unwrap();
    assert_eq!(
        b.lookup("books", "all").await.unwrap(),
        CountLookup::Hit(4),
        "shared"
    );

    // A write on node B: node A counts again.
    b.invalidate("books").await.unwrap();
    let CountLookup::Miss(before_write) = a.lookup("books", "all").await.unwrap() else {
        panic!("invalidated")
    };
    // A count that raced with another write is stored under the old generation: never served.
    b.invalidate("books").await.unwrap();
    a.store("books", "all", before_write, 4, ttl).await.unwrap();
    assert!(matches!(
        a.lookup("books", "all").await.unwrap(),
        CountLookup::Miss(_)
    ));
    assert!(matches!(
        b.lookup("authors", "all").await.unwrap(),
        CountLookup::Miss(_)
    ));
}

/// The RESP encoding of `PUBLISH channel payload` (the payload holds a newline, which the
/// inline protocol cannot carry); `RedisServer::command` adds the final CRLF.
fn publish_command(channel: &str, payload: &str) -> String {
    format!(
        "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{channel}\r\n${}\r\n{payload}",
        channel.len(),
        payload.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_redis_delivers_later_than_max_publish_delay_is_dropped_on_receipt() {
    let Some(redis) = RedisServer::start_or_skip("a_late_push_is_dropped") else {
        return;
    };
    let b = node(config(&redis));
    up(&[&b]).await;
    let on_b = b.hub.connect_as("bob", [] as [&str; 0]);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let frame = r#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":"x"}"#;
    // As another node's batch that sat in a stalled server for 5 s, then one sent just now.
    for (seq, at, text) in [(1, now_ms - 5_000, "late"), (2, now_ms, "fresh")] {
        let header = format!(
            r#"{{"v":1,"node":"other","seq":{seq},"at":{at},"kind":"push","target":"all"}}"#
        );
        let payload = format!(
            "{header}\n{}",
            frame.replace("\"x\"", &format!("\"{text}\""))
        );
        let reply = redis
            .command(&publish_command("test:push", &payload))
            .unwrap();
        assert_eq!(reply, ":1", "one subscriber");
    }
    until("the fresh push arrives", || !on_b.pushes().is_empty()).await;
    assert_eq!(texts(&on_b), [r#""fresh""#]);
    assert_eq!(b.cluster.health().dropped, 1, "the late one is counted");
}
