//! [`serve`]: an axum app on a TCP listener, with the shutdown and the handshake limits a
//! WebSocket service needs.
//!
//! `axum::serve` has neither: it waits on no signal by default, has no header-read timeout (a
//! client that never finishes its upgrade request holds a connection forever), and keeps
//! accepting while the WebSocket connections drain. This is a small accept loop over hyper's
//! HTTP/1 connection (the one axum uses) that adds them.

use crate::hub::Hub;
use ::axum::extract::ConnectInfo;
use ::axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_service::Service;

/// How long a client may take to send its whole HTTP request head, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP connections not (yet) upgraded to WebSocket held at once, by default.
pub const DEFAULT_MAX_PENDING_CONNECTIONS: usize = 1_024;
/// How long shutdown may take in all, by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `app` on `listener` until a shutdown signal (by default [`shutdown_signal`]: SIGTERM
/// or SIGINT), then shuts down without losing work. Await it.
///
/// On the signal:
/// 1. the listener stops accepting; plain HTTP connections finish their current request;
/// 2. [`Hub::shutdown`] runs: every WebSocket connection reads what its client had already
///    sent, runs and answers it (within
///    [`WsConfig::shutdown_grace`](crate::transport::WsConfig::shutdown_grace)), sends a 1001
///    close frame, and waits for the client's close frame (at most
///    [`WsConfig::close_linger`](crate::transport::WsConfig::close_linger)) before dropping
///    the socket, so that no answer is lost to a TCP reset;
/// 3. the future resolves, `Ok(())`, at the latest after the [shutdown
///    timeout](Serve::shutdown_timeout).
///
/// A request a client sends after the server's 1001 is not read and never runs: a client may
/// resend every request left unanswered at a 1001 close.
///
/// Before the upgrade, every connection must send its request head within the [header-read
/// timeout](Serve::header_read_timeout) (slow or silent clients are dropped), and at most
/// [`max_pending_connections`](Serve::max_pending_connections) connections may be waiting
/// for theirs (more are closed at once). Handlers see the peer address through
/// [`ConnectionInfo`](crate::ConnectionInfo), as with `into_make_service_with_connect_info`.
///
/// # Examples
///
/// ```no_run
/// use pkg_router::transport::{Endpoint, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::new();
/// let router = Router::builder().hub(hub.clone()).with_registered().build()?;
/// let endpoint = Endpoint::new(router, WsConfig::default());
/// let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// pkg_router::axum::serve(listener, app, hub).await?; // until SIGTERM or Ctrl-C
/// # Ok(())
/// # }
/// ```
///
/// Stopped by a signal of the application's own, end to end:
///
/// ```
/// use futures_util::StreamExt;
/// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
/// use pkg_router::{Hub, Router};
/// use tokio_tungstenite::tungstenite::Message;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let hub = Hub::new();
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let router = Router::builder().hub(hub.clone()).allow_empty().build()?;
/// let endpoint = Endpoint::new(router, config);
/// let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let url = format!("ws://{}/web", listener.local_addr()?);
///
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = pkg_router::axum::serve(listener, app, hub.clone())
///     .with_shutdown_signal(async move { let _ = stopped.await; });
/// let server = tokio::spawn(server.into_future());
///
/// let (mut client, _) = tokio_tungstenite::connect_async(&url).await?;
/// while hub.connection_count() == 0 {
///     tokio::task::yield_now().await;
/// }
/// stop.send(()).unwrap();
/// let Some(Ok(Message::Close(Some(close)))) = client.next().await else { panic!("no close frame") };
/// assert_eq!(u16::from(close.code), 1001);
/// drop(client);
/// server.await??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn serve(listener: TcpListener, app: ::axum::Router, hub: Hub) -> Serve {
    Serve {
        listener,
        app,
        hub,
        signal: Box::pin(shutdown_signal()),
        header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        max_pending: DEFAULT_MAX_PENDING_CONNECTIONS,
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        tcp_nodelay: true,
        #[cfg(test)]
        observe: None,
    }
}

/// Resolves when the process receives SIGTERM (how container platforms stop a service) or
/// SIGINT (Ctrl-C); elsewhere than Unix, on Ctrl-C. The default signal of [`serve`].
///
/// If a handler cannot be installed, it logs an error and never resolves through that signal.
///
/// # Examples
///
/// ```no_run
/// # async fn run() {
/// pkg_router::axum::shutdown_signal().await;
/// println!("shutting down");
/// # }
/// ```
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received: shutting down"),
        () = terminate => tracing::info!("SIGTERM received: shutting down"),
    }
}

/// A server being configured; see [`serve`]. Await it (it implements [`IntoFuture`]).
#[must_use = "a server does nothing until awaited"]
pub struct Serve {
    listener: TcpListener,
    app: ::axum::Router,
    hub: Hub,
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    header_read_timeout: Duration,
    max_pending: usize,
    shutdown_timeout: Duration,
    tcp_nodelay: bool,
    /// Tests: receives `TCP_NODELAY` as read back from each accepted socket.
    #[cfg(test)]
    observe: Option<tokio::sync::mpsc::UnboundedSender<bool>>,
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_pending_connections", &self.max_pending)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("tcp_nodelay", &self.tcp_nodelay)
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// Shuts down when `signal` resolves instead of on SIGTERM/SIGINT.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, hub: pkg_router::Hub) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// pkg_router::axum::serve(listener, app, hub)
    ///     .with_shutdown_signal(async move { let _ = stopped.await; })
    ///     .await
    /// # }
    /// ```
    pub fn with_shutdown_signal(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.signal = Box::pin(signal);
        self
    }

    /// How long a client may take to send its HTTP request head (the upgrade request, or the
    /// next request on a kept-alive connection) before the connection is dropped. Default:
    /// [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, hub: pkg_router::Hub) -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// use std::time::Duration;
    /// pkg_router::axum::serve(listener, app, hub)
    ///     .header_read_timeout(Duration::from_secs(5))
    ///     .await
    /// # }
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How many HTTP connections may be open without having upgraded to WebSocket (waiting
    /// for their request head, or kept alive between plain HTTP requests). Over it, a new
    /// connection is closed as soon as it is accepted. Default:
    /// [`DEFAULT_MAX_PENDING_CONNECTIONS`] (1 024). Upgraded connections count toward
    /// [`WsConfig::max_connections`](crate::transport::WsConfig::max_connections) instead.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, hub: pkg_router::Hub) -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// pkg_router::axum::serve(listener, app, hub).max_pending_connections(256).await
    /// # }
    /// ```
    pub fn max_pending_connections(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// The longest the whole shutdown may take after the signal; the future then resolves
    /// even if connections remain (they are dropped with the runtime). Keep it above
    /// `shutdown_grace + close_linger + 1 s` of the endpoints' [`WsConfig`](crate::transport::WsConfig)
    /// (13 s by default). Default: [`DEFAULT_SHUTDOWN_TIMEOUT`] (20 s), within the 30 s most
    /// container platforms wait between SIGTERM and SIGKILL.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, hub: pkg_router::Hub) -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// use std::time::Duration;
    /// pkg_router::axum::serve(listener, app, hub)
    ///     .shutdown_timeout(Duration::from_secs(25))
    ///     .await
    /// # }
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether every accepted socket gets `TCP_NODELAY` (Nagle's algorithm off). Default:
    /// `true`. A WebSocket answer or push is one small write that nothing follows until the
    /// client replies: with Nagle's algorithm on, a write made while an earlier segment is
    /// still unacknowledged waits for that ACK (up to the peer's delayed-ACK time, 40 ms on
    /// Linux) instead of leaving at once. Turn it off only to measure that difference, or for
    /// traffic of many tiny writes where fewer segments matter more than latency.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, hub: pkg_router::Hub) -> std::io::Result<()> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// pkg_router::axum::serve(listener, app, hub).tcp_nodelay(false).await
    /// # }
    /// ```
    pub fn tcp_nodelay(mut self, nodelay: bool) -> Self {
        self.tcp_nodelay = nodelay;
        self
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The operating system's, if it cannot tell.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, hub: pkg_router::Hub) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let server = pkg_router::axum::serve(listener, app, hub);
    /// println!("listening on {}", server.local_addr()?);
    /// server.await
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            app,
            hub,
            mut signal,
            header_read_timeout,
            max_pending,
            shutdown_timeout,
            tcp_nodelay,
            #[cfg(test)]
            observe,
        } = self;
        let pending = Arc::new(Semaphore::new(max_pending));
        // Tells HTTP connections to finish; every connection task holds a receiver, so the
        // sender's `closed()` resolves when the last one ends.
        let (stop_http, http_stopping) = watch::channel(false);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors, or a connection reset before it was
                        // accepted: keep serving, and give the first a moment to pass.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
                tracing::warn!(%peer, max_pending, "too many pending HTTP connections: closing a new one");
                #[cfg(feature = "metrics")]
                metrics::counter!("http_connections_refused_total").increment(1);
                continue;
            };
            let connection = Connection {
                stream,
                peer,
                app: app.clone(),
                header_read_timeout,
                tcp_nodelay,
                #[cfg(test)]
                observe: observe.clone(),
                _permit: permit,
            };
            tokio::spawn(connection.serve(http_stopping.clone()));
        }
        drop(listener);
        drop(http_stopping);
        tracing::info!(
            connections = hub.connection_count(),
            "not accepting any more: finishing WebSocket connections"
        );
        stop_http.send_replace(true);
        let finished = async {
            hub.shutdown().await;
            stop_http.closed().await;
        };
        if tokio::time::timeout(shutdown_timeout, finished)
            .await
            .is_err()
        {
            tracing::warn!(
                connections = hub.connection_count(),
                timeout_ms = shutdown_timeout.as_millis() as u64,
                "shutdown timeout: dropping the connections left"
            );
        } else {
            tracing::info!("shutdown complete");
        }
        Ok(())
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// One accepted TCP connection, until it upgrades or ends.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    app: ::axum::Router,
    header_read_timeout: Duration,
    tcp_nodelay: bool,
    #[cfg(test)]
    observe: Option<tokio::sync::mpsc::UnboundedSender<bool>>,
    /// Released when the connection upgrades (hyper's future ends there) or closes.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, mut stopping: watch::Receiver<bool>) {
        // Answers and pushes are small and latency-bound: do not hold them back for an ACK
        // (unless the server was told otherwise; see `Serve::tcp_nodelay`).
        if let Err(err) = self.stream.set_nodelay(self.tcp_nodelay) {
            tracing::debug!(peer = %self.peer, error = %err, "cannot set TCP_NODELAY");
        }
        #[cfg(test)]
        if let Some(observe) = &self.observe {
            let _ = observe.send(self.stream.nodelay().unwrap_or(!self.tcp_nodelay));
        }
        let service = AppService {
            app: self.app,
            peer: self.peer,
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let connection = builder
            .serve_connection(TokioIo::new(self.stream), service)
            .with_upgrades();
        let mut connection = std::pin::pin!(connection);
        let mut asked_to_stop = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(peer = %self.peer, error = %err, "HTTP connection ended");
                    }
                    break;
                }
                changed = stopping.changed(), if !asked_to_stop => {
                    asked_to_stop = true;
                    if changed.is_err() || *stopping.borrow() {
                        // Finish the request being served, take no other.
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// The app as a hyper service, with the peer address in each request (for `ConnectInfo`).
#[derive(Clone)]
struct AppService {
    app: ::axum::Router,
    peer: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for AppService {
    type Response = ::axum::response::Response;
    type Error = Infallible;
    type Future = ::axum::routing::future::RouteFuture<Infallible>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // `Router` is always ready: no `poll_ready` needed.
        self.app.clone().call(request)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one plain HTTP request with `tcp_nodelay(nodelay)`: the answer, and the
    /// `TCP_NODELAY` read back from the accepted socket.
    async fn one_request(nodelay: bool) -> (String, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = ::axum::Router::new().route("/", ::axum::routing::get(|| async { "served" }));
        let (observe, mut observed) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut server = serve(listener, app, Hub::new())
            .tcp_nodelay(nodelay)
            .with_shutdown_signal(async move {
                let _ = stopped.await;
            });
        server.observe = Some(observe);
        let server = tokio::spawn(server.into_future());
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        let set = observed.recv().await.unwrap();
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        (answer, set)
    }

    #[tokio::test]
    async fn tcp_nodelay_is_set_on_accepted_sockets_unless_turned_off() {
        for nodelay in [true, false] {
            let (answer, set) = one_request(nodelay).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert!(answer.ends_with("served"), "{answer}");
            assert_eq!(set, nodelay, "TCP_NODELAY on the accepted socket");
        }
        // The default is on.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(serve(listener, ::axum::Router::new(), Hub::new()).tcp_nodelay);
    }
}
