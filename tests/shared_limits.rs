//! `Endpoint::with_shared_limits`: the per-principal connection limit and the rate limit counted
//! by a store several endpoints (nodes) share, and what the transport does when that store fails
//! or hangs ([protocol](pkg_router::protocol) §6.10).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::hub::{CloseReason, close_code};
use pkg_router::testing::{MemoryClient, MemorySocket};
use pkg_router::transport::{
    AuthError, AuthFuture, Authenticator, ConnectionLease, Endpoint, FailMode, Frame, LimitFuture,
    LocalLimits, RateCheck, RateLimit, SharedLimitError, SharedLimits, WsConfig,
};
use pkg_router::{HandlerError, Principal, Router};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Any token is a user of that name.
struct Names;

impl Authenticator for Names {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    }
}

async fn ping() -> Result<&'static str, HandlerError> {
    Ok("pong")
}

fn node(config: WsConfig, limits: impl SharedLimits) -> Arc<Endpoint> {
    let router = Router::builder().handler(1, ping).build().unwrap();
    Arc::new(
        Endpoint::new(router, config)
            .with_authenticator(Names)
            .with_shared_limits(limits),
    )
}

/// Connects as `user`; returns the client and its first frame (`auth_ok` or a close).
async fn login(endpoint: &Arc<Endpoint>, user: &str) -> (MemoryClient, Frame) {
    let (socket, mut client) = MemorySocket::pair();
    let admission = endpoint.admit(None, None).unwrap();
    tokio::spawn(Arc::clone(endpoint).serve(socket, admission, None));
    client.send_text(&format!(r#"{{"type": "auth", "token": "Bearer {user}"}}"#));
    let first = tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("an answer to the auth frame")
        .unwrap();
    (client, first)
}

fn auth_ok() -> Frame {
    Frame::Text(bytes::Bytes::from_static(br#"{"type":"auth_ok"}"#))
}

fn too_many() -> Frame {
    Frame::Close(Some(CloseReason::new(
        close_code::POLICY,
        "Maximum concurrent connections exceeded",
    )))
}

async fn call(client: &mut MemoryClient, n: u32) -> String {
    client.send_text(&format!(
        r#"{{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-4466554400{n:02}"}}"#
    ));
    tokio::time::timeout(Duration::from_secs(5), client.recv_text())
        .await
        .expect("an answer")
}

fn config(max_per_principal: usize, rate: Option<RateLimit>) -> WsConfig {
    let mut config = WsConfig::default();
    config.max_connections_per_principal = max_per_principal;
    config.rate_limit = rate;
    config
}

#[tokio::test]
async fn the_connection_limit_holds_across_endpoints_sharing_a_store() {
    let shared = LocalLimits::new();
    let a = node(config(2, None), shared.clone());
    let b = node(config(2, None), shared.clone());
    let (_one, first) = login(&a, "ann").await;
    let (two, second) = login(&b, "ann").await;
    assert_eq!((first, second), (auth_ok(), auth_ok()));
    assert_eq!(login(&a, "ann").await.1, too_many(), "a third, on node A");
    assert_eq!(login(&b, "ann").await.1, too_many(), "a third, on node B");
    assert_eq!(login(&b, "bob").await.1, auth_ok(), "another principal");
    assert_eq!(shared.held("ann"), 2, "refused connections hold no slot");

    // A connection that closes gives its slot back.
    two.send(Frame::Close(None));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while shared.held("ann") != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the slot came back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(login(&b, "ann").await.1, auth_ok());
}

#[tokio::test]
async fn anonymous_connections_never_ask_the_store() {
    // A store that refuses everything: anonymous callers (limited per connection) never meet it.
    let broken = Broken::new(false, FailMode::Closed);
    let calls = Arc::clone(&broken.calls);
    let mut config = config(1, Some(RateLimit::new(100, Duration::from_secs(60))));
    config.auth = pkg_router::transport::AuthMode::Optional;
    let a = node(config, broken);
    let mut clients = Vec::new();
    for n in 0..2 {
        let (socket, mut client) = MemorySocket::pair();
        tokio::spawn(Arc::clone(&a).serve(socket, a.admit(None, None).unwrap(), None));
        let answer = call(&mut client, n).await;
        assert!(answer.contains(r#""data":"pong""#), "{answer}");
        clients.push(client);
    }
    assert_eq!(a.hub().connection_count(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_rate_limit_is_one_budget_across_endpoints_when_shared() {
    let shared = LocalLimits::new();
    let rate = Some(RateLimit::new(3, Duration::from_secs(600)));
    let a = node(config(5, rate), shared.clone());
    let b = node(config(5, rate), shared.clone());
    let (mut on_a, _) = login(&a, "ann").await;
    let (mut on_b, _) = login(&b, "ann").await;
    let mut limited = 0;
    for n in 0..4 {
        let client = if n % 2 == 0 { &mut on_a } else { &mut on_b };
        let answer = call(client, n).await;
        if answer.contains(r#""code":"rate_limited""#) {
            limited += 1;
            assert!(answer.contains("retry_after_ms"), "{answer}");
        }
    }
    // Per node the budget (3) would let all four through.
    assert_eq!(limited, 1);
}

/// A store that fails at once, or never answers, and counts its calls.
struct Broken {
    hang: bool,
    mode: FailMode,
    calls: Arc<AtomicUsize>,
}

impl Broken {
    fn new(hang: bool, mode: FailMode) -> Self {
        Self {
            hang,
            mode,
            calls: Arc::default(),
        }
    }

    fn fail<'a, T: Send + 'a>(&'a self) -> LimitFuture<'a, Result<T, SharedLimitError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            Box::pin(std::future::pending())
        } else {
            Box::pin(async { Err(SharedLimitError::unavailable("connection refused")) })
        }
    }
}

impl SharedLimits for Broken {
    fn acquire_connection<'a>(
        &'a self,
        _principal_id: &'a str,
        _max: usize,
    ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>> {
        self.fail()
    }

    fn check_rate<'a>(
        &'a self,
        _key: &'a str,
        _limit: RateLimit,
    ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>> {
        self.fail()
    }

    fn shares_rate_limit(&self) -> bool {
        true
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(50)
    }

    fn on_unavailable(&self) -> FailMode {
        self.mode
    }
}

#[tokio::test]
async fn fail_open_falls_back_to_the_per_node_limits() {
    for hang in [false, true] {
        let broken = Broken::new(hang, FailMode::Open);
        let calls = Arc::clone(&broken.calls);
        let a = node(
            config(1, Some(RateLimit::new(2, Duration::from_secs(600)))),
            broken,
        );
        let (mut client, first) = login(&a, "ann").await;
        assert_eq!(first, auth_ok(), "hang: {hang}");
        assert_eq!(login(&a, "ann").await.1, too_many(), "the per-node limit");
        // The local limiter takes over: 2 allowed, the third limited.
        assert!(call(&mut client, 1).await.contains("pong"));
        assert!(call(&mut client, 2).await.contains("pong"));
        let third = call(&mut client, 3).await;
        assert!(third.contains("Rate limit exceeded"), "{third}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5,
            "every check asked the store first"
        );
    }
}

#[tokio::test]
async fn fail_closed_refuses_connections_and_requests() {
    for hang in [false, true] {
        // The connection is refused with 1013.
        let a = node(config(5, None), Broken::new(hang, FailMode::Closed));
        let unavailable = Frame::Close(Some(CloseReason::new(
            close_code::TRY_AGAIN_LATER,
            "connection limit unavailable",
        )));
        assert_eq!(login(&a, "ann").await.1, unavailable, "hang: {hang}");
        assert_eq!(a.hub().connection_count(), 0);
    }

    // A request is answered `rate_limited` while the store is away (the connection got in
    // through a store that shares only the connection limit).
    struct RateBroken(Broken, LocalLimits);
    impl SharedLimits for RateBroken {
        fn acquire_connection<'a>(
            &'a self,
            principal_id: &'a str,
            max: usize,
        ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>> {
            self.1.acquire_connection(principal_id, max)
        }
        fn check_rate<'a>(
            &'a self,
            key: &'a str,
            limit: RateLimit,
        ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>> {
            self.0.check_rate(key, limit)
        }
        fn shares_rate_limit(&self) -> bool {
            true
        }
        fn timeout(&self) -> Duration {
            self.0.timeout()
        }
        fn on_unavailable(&self) -> FailMode {
            self.0.on_unavailable()
        }
    }
    let a = node(
        config(5, Some(RateLimit::new(100, Duration::from_secs(60)))),
        RateBroken(Broken::new(true, FailMode::Closed), LocalLimits::new()),
    );
    let (mut client, first) = login(&a, "ann").await;
    assert_eq!(first, auth_ok());
    let answer = call(&mut client, 1).await;
    assert!(
        answer.contains(r#""code":"rate_limited""#) && answer.contains("Rate limit unavailable"),
        "{answer}"
    );
}
