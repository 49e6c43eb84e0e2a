//! The connection [`Hub`]: every live connection, and broadcasts to them.

mod backend;
mod outbound;

pub use backend::{BroadcastBackend, LocalBackend, RemoteDelivery};
pub use outbound::{CloseReason, MAX_REASON_BYTES, Outbound, Push, close_code};

use crate::error::HandlerError;
use crate::extract::{FromRequest, RequestContext};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, watch};

/// Identifies one live connection within a hub.
///
/// Ids are unique for the life of the hub (never reused), so logs and metrics can key on them.
/// `Display` prints `c<n>`, as the `connection` field of the transport's spans does.
///
/// # Examples
///
/// ```
/// use pkg_router::{CloseReason, ConnectionId, Hub};
/// use tokio::sync::{mpsc, watch};
///
/// let hub = Hub::new();
/// let (queue, _pushes) = mpsc::channel(8);
/// let (close, closed) = watch::channel(None);
/// let conn = hub.register(None, 5, queue, close).unwrap();
///
/// let id: ConnectionId = conn.id();
/// assert_eq!(id.to_string(), format!("c{}", id.0));
/// hub.close(id, CloseReason::going_away()); // address one connection
/// assert_eq!(closed.borrow().as_ref().map(|reason| reason.code), Some(1001));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Tracks live connections and fans broadcasts out to them.
///
/// Cheap to clone (shared). A broadcast is serialized once; the same bytes are queued on every
/// connection without waiting: a connection whose bounded queue is full is closed with 1008
/// "slow consumer" and the others are unaffected. One principal may hold several connections,
/// and every one of them receives broadcasts.
///
/// Handlers take a `Hub` argument (the transport attaches it to every connection), so the
/// Python design's `connection_manager.broadcast(...)` is one line:
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{Data, HandlerError, Hub, Outbound, Router};
/// use serde_json::json;
/// use tokio::sync::{mpsc, watch};
///
/// #[derive(serde::Deserialize)]
/// struct NewBook { title: String }
///
/// async fn create_book(Data(book): Data<NewBook>, hub: Hub) -> Result<(), HandlerError> {
///     // ... store the book ...
///     hub.broadcast(100u32, &json!({"id": 12, "title": book.title, "action": "created"}))?;
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // In-process, the hub is given as state; a transport attaches it to each connection itself.
/// let hub = Hub::new();
/// let router = Router::builder().state(hub.clone()).handler(3, create_book).build()?;
///
/// // One connection, registered as a transport would.
/// let (queue, mut pushes) = mpsc::channel(8);
/// let (close, _closed) = watch::channel(None);
/// let _connection = hub.register(None, 5, queue, close).unwrap();
///
/// TestRouter::new(router).call(3, json!({"title": "Dune"})).await.expect_ok();
/// let Ok(Outbound::Push(push)) = pushes.try_recv() else { panic!("no push") };
/// assert_eq!(push.pkg_id(), 100);
/// assert_eq!(push.data_json(), r#"{"action":"created","id":12,"title":"Dune"}"#);
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    registry: RwLock<Registry>,
    next_id: AtomicU64,
    backend: Arc<dyn BroadcastBackend>,
    shutdown: watch::Sender<bool>,
    /// The number of live connections, watched by `shutdown`.
    live: watch::Sender<usize>,
}

#[derive(Default)]
struct Registry {
    connections: HashMap<ConnectionId, Entry>,
    by_principal: HashMap<String, Vec<ConnectionId>>,
}

struct Entry {
    principal: Option<String>,
    queue: mpsc::Sender<Outbound>,
    close: watch::Sender<Option<CloseReason>>,
}

/// A registered connection: its id, its outbound queue and its close signal. Dropping it
/// removes the connection from the hub.
///
/// Returned by [`Hub::register`]; a transport holds it for as long as the connection lives.
///
/// # Examples
///
/// ```
/// use pkg_router::Hub;
/// use tokio::sync::{mpsc, watch};
///
/// let hub = Hub::new();
/// let (queue, _pushes) = mpsc::channel(8);
/// let (close, _closed) = watch::channel(None);
/// let registration = hub.register(Some("u-1"), 5, queue, close).unwrap();
/// assert_eq!(hub.principal_connection_count("u-1"), 1);
///
/// drop(registration); // the connection ended
/// assert_eq!(hub.principal_connection_count("u-1"), 0);
/// assert_eq!(hub.connection_count(), 0);
/// ```
#[derive(Debug)]
pub struct Registration {
    hub: Hub,
    id: ConnectionId,
}

/// Why a connection could not be registered.
///
/// The transport closes the connection with 1008 and this text as the reason.
///
/// # Examples
///
/// ```
/// use pkg_router::{Hub, RegisterError};
/// use tokio::sync::{mpsc, watch};
///
/// let hub = Hub::new();
/// let mut connections = Vec::new();
/// let mut register = || {
///     let (queue, pushes) = mpsc::channel(8);
///     let (close, closed) = watch::channel(None);
///     connections.push((pushes, closed));
///     hub.register(Some("u-1"), 1, queue, close)
/// };
/// let _first = register().unwrap();
/// let err = register().unwrap_err();
/// assert_eq!(err, RegisterError::TooManyForPrincipal);
/// assert_eq!(err.to_string(), "Maximum concurrent connections exceeded");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The principal already holds the maximum number of connections.
    #[error("Maximum concurrent connections exceeded")]
    TooManyForPrincipal,
    /// The hub is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
}

impl Hub {
    /// A hub that delivers broadcasts to this process's connections only.
    ///
    /// Create one per process and share clones of it (with the transport's `Endpoint`, and with
    /// code that broadcasts from outside handlers).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    ///
    /// let hub = Hub::new();
    /// assert_eq!(hub.connection_count(), 0);
    /// assert!(!hub.is_shutting_down());
    /// assert_eq!(hub.broadcast(100u32, "nobody listens")?, 0);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn new() -> Self {
        Self::with_backend(LocalBackend)
    }

    /// A hub whose broadcasts also go through `backend` (to other nodes).
    ///
    /// The backend's [`start`](BroadcastBackend::start) runs here, before this returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BroadcastBackend, Hub, Push};
    /// use std::sync::{Arc, Mutex};
    ///
    /// /// Keeps what would go to other nodes.
    /// #[derive(Clone, Default)]
    /// struct Outbox(Arc<Mutex<Vec<String>>>);
    ///
    /// impl BroadcastBackend for Outbox {
    ///     fn publish(&self, push: &Arc<Push>) {
    ///         let frame = String::from_utf8_lossy(push.json_frame()).into_owned();
    ///         self.0.lock().unwrap().push(frame);
    ///     }
    /// }
    ///
    /// let outbox = Outbox::default();
    /// let hub = Hub::with_backend(outbox.clone());
    /// hub.broadcast(100u32, &[1, 2])?;
    /// assert_eq!(
    ///     *outbox.0.lock().unwrap(),
    ///     [r#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":[1,2]}"#]
    /// );
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn with_backend(backend: impl BroadcastBackend) -> Self {
        let hub = Self {
            inner: Arc::new(Inner {
                registry: RwLock::new(Registry::default()),
                next_id: AtomicU64::new(1),
                backend: Arc::new(backend),
                shutdown: watch::channel(false).0,
                live: watch::channel(0).0,
            }),
        };
        hub.inner
            .backend
            .start(RemoteDelivery::new(hub.downgrade()));
        hub
    }

    fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    fn from_weak(weak: &std::sync::Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    /// Number of live connections (registered and not yet dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let a = hub.register(Some("u-1"), 5, queue.clone(), close.clone()).unwrap();
    /// let b = hub.register(None, 5, queue, close).unwrap();
    /// assert_eq!(hub.connection_count(), 2);
    /// drop((a, b));
    /// assert_eq!(hub.connection_count(), 0);
    /// ```
    pub fn connection_count(&self) -> usize {
        self.read().connections.len()
    }

    /// Number of live connections of one principal (by [`Principal::id`](crate::Principal::id));
    /// anonymous connections are not counted under any principal.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let _phone = hub.register(Some("u-1"), 5, queue.clone(), close.clone()).unwrap();
    /// let _laptop = hub.register(Some("u-1"), 5, queue.clone(), close.clone()).unwrap();
    /// let _guest = hub.register(None, 5, queue, close).unwrap();
    /// assert_eq!(hub.principal_connection_count("u-1"), 2);
    /// assert_eq!(hub.principal_connection_count("u-2"), 0);
    /// assert_eq!(hub.connection_count(), 3);
    /// ```
    pub fn principal_connection_count(&self, principal_id: &str) -> usize {
        self.read()
            .by_principal
            .get(principal_id)
            .map_or(0, Vec::len)
    }

    /// Sends a push `{"pkg_id", "req_id": nil, "data"}` to every connection, here and (through
    /// the backend) on other nodes. Returns how many local connections it was queued for.
    ///
    /// Never waits: connections whose queue is full are closed with 1008 "slow consumer".
    ///
    /// # Errors
    ///
    /// [`HandlerError::Internal`] if `data` does not serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{CloseReason, Hub, Outbound};
    /// use serde_json::json;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (fast_queue, mut fast) = mpsc::channel(8);
    /// let (fast_close, _) = watch::channel(None);
    /// let _a = hub.register(None, 5, fast_queue, fast_close).unwrap();
    /// let (slow_queue, _slow) = mpsc::channel(1); // never read
    /// let (slow_close, slow_closed) = watch::channel(None);
    /// let _b = hub.register(None, 5, slow_queue, slow_close).unwrap();
    ///
    /// assert_eq!(hub.broadcast(100u32, &json!({"n": 1}))?, 2);
    /// assert_eq!(hub.broadcast(100u32, &json!({"n": 2}))?, 1); // the slow queue is full
    /// assert_eq!(*slow_closed.borrow(), Some(CloseReason::slow_consumer()));
    ///
    /// let Ok(Outbound::Push(first)) = fast.try_recv() else { panic!() };
    /// let Ok(Outbound::Push(second)) = fast.try_recv() else { panic!() };
    /// assert_eq!((first.data_json(), second.data_json()), (r#"{"n":1}"#, r#"{"n":2}"#));
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn broadcast<T: Serialize + ?Sized>(
        &self,
        pkg_id: impl crate::IntoPkgId,
        data: &T,
    ) -> Result<usize, HandlerError> {
        let push = Arc::new(Push::new(pkg_id.into_pkg_id(), data).map_err(HandlerError::internal)?);
        self.inner.backend.publish(&push);
        Ok(self.deliver_local(&push))
    }

    /// Sends a push to every connection of one principal on this node (all of them, not just
    /// the last one); the broadcast backend does not carry per-principal pushes yet.
    /// Returns how many connections it was queued for.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Internal`] if `data` does not serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (ann_queue, mut ann) = mpsc::channel(8);
    /// let (bob_queue, mut bob) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let _phone = hub.register(Some("ann"), 5, ann_queue.clone(), close.clone()).unwrap();
    /// let _laptop = hub.register(Some("ann"), 5, ann_queue, close.clone()).unwrap();
    /// let _bob = hub.register(Some("bob"), 5, bob_queue, close).unwrap();
    ///
    /// assert_eq!(hub.send_to_principal("ann", 101u32, "your book is ready")?, 2);
    /// assert_eq!(ann.len(), 2);
    /// assert!(bob.try_recv().is_err());
    /// assert_eq!(hub.send_to_principal("carol", 101u32, "nobody")?, 0);
    /// # let _ = ann.try_recv();
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn send_to_principal<T: Serialize + ?Sized>(
        &self,
        principal_id: &str,
        pkg_id: impl crate::IntoPkgId,
        data: &T,
    ) -> Result<usize, HandlerError> {
        let push = Arc::new(Push::new(pkg_id.into_pkg_id(), data).map_err(HandlerError::internal)?);
        let registry = self.read();
        let ids = registry.by_principal.get(principal_id);
        let mut queued = 0;
        for id in ids.into_iter().flatten() {
            if let Some(entry) = registry.connections.get(id) {
                queued += usize::from(offer(*id, entry, Outbound::Push(Arc::clone(&push))));
            }
        }
        Ok(queued)
    }

    /// Queues a push on every local connection (also what a backend calls for pushes from
    /// other nodes).
    pub(crate) fn deliver_local(&self, push: &Arc<Push>) -> usize {
        let registry = self.read();
        registry
            .connections
            .iter()
            .filter(|(id, entry)| offer(**id, entry, Outbound::Push(Arc::clone(push))))
            .count()
    }

    /// Registers a connection for `principal_id` (`None` for anonymous connections, which no
    /// per-principal limit applies to).
    ///
    /// # Errors
    ///
    /// [`RegisterError`] when the principal already holds `max_per_principal` connections, or
    /// the hub is shutting down.
    ///
    /// # Examples
    ///
    /// A transport registering a connection: pushes arrive on `queue`, and the hub asks the
    /// connection to close through `close`.
    ///
    /// ```
    /// use pkg_router::{CloseReason, Hub, Outbound, RegisterError};
    /// use tokio::sync::{mpsc, watch};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// let (queue, mut outbound) = mpsc::channel::<Outbound>(256);
    /// let (close, closed) = watch::channel::<Option<CloseReason>>(None);
    /// let registration = hub.register(Some("u-1"), 1, queue.clone(), close.clone()).unwrap();
    /// assert_eq!(registration.hub().connection_count(), 1);
    ///
    /// hub.broadcast(100u32, "hello")?;
    /// assert!(matches!(outbound.recv().await, Some(Outbound::Push(_))));
    ///
    /// // One connection per principal here.
    /// let err = hub.register(Some("u-1"), 1, queue.clone(), close.clone()).unwrap_err();
    /// assert_eq!(err, RegisterError::TooManyForPrincipal);
    ///
    /// drop(registration);
    /// hub.shutdown().await; // nothing left to wait for
    /// assert_eq!(hub.register(None, 1, queue, close).unwrap_err(), RegisterError::ShuttingDown);
    /// # drop(closed);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// # }).unwrap();
    /// ```
    pub fn register(
        &self,
        principal_id: Option<&str>,
        max_per_principal: usize,
        queue: mpsc::Sender<Outbound>,
        close: watch::Sender<Option<CloseReason>>,
    ) -> Result<Registration, RegisterError> {
        if self.is_shutting_down() {
            return Err(RegisterError::ShuttingDown);
        }
        let mut registry = self.write();
        if let Some(principal) = principal_id {
            let held = registry.by_principal.get(principal).map_or(0, Vec::len);
            if held >= max_per_principal {
                return Err(RegisterError::TooManyForPrincipal);
            }
        }
        let id = ConnectionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        if let Some(principal) = principal_id {
            registry
                .by_principal
                .entry(principal.to_owned())
                .or_default()
                .push(id);
        }
        registry.connections.insert(
            id,
            Entry {
                principal: principal_id.map(str::to_owned),
                queue,
                close,
            },
        );
        self.inner.live.send_replace(registry.connections.len());
        #[cfg(feature = "metrics")]
        metrics::gauge!("ws_connections_active").set(registry.connections.len() as f64);
        Ok(Registration {
            hub: self.clone(),
            id,
        })
    }

    /// Asks one connection to close with `reason` (an admin kicking a user, say); unknown ids
    /// are ignored.
    ///
    /// The connection's transport sends the close frame; the connection leaves the hub once it
    /// has closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{close_code, CloseReason, Hub};
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, closed) = watch::channel(None);
    /// let conn = hub.register(Some("u-1"), 5, queue, close).unwrap();
    ///
    /// hub.close(conn.id(), CloseReason::new(close_code::POLICY, "banned"));
    /// assert_eq!(closed.borrow().as_ref().map(|r| &*r.reason), Some("banned"));
    /// ```
    pub fn close(&self, id: ConnectionId, reason: CloseReason) {
        if let Some(entry) = self.read().connections.get(&id) {
            entry.close.send_replace(Some(reason));
        }
    }

    /// Starts a graceful shutdown: new connections are refused, and every live connection
    /// stops reading, finishes its in-flight requests (within its grace period) and closes with
    /// 1001. Resolves when no connection is left.
    ///
    /// Call it from the server's graceful-shutdown hook, after the listener stops accepting.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let registration = hub.register(None, 5, queue, close).unwrap();
    ///
    /// // A connection task: it finishes its work when shutdown starts, then leaves the hub.
    /// let mut signal = hub.shutdown_signal();
    /// let connection = tokio::spawn(async move {
    ///     let _ = signal.wait_for(|stopping| *stopping).await;
    ///     drop(registration);
    /// });
    ///
    /// hub.shutdown().await; // returns once the connection is gone
    /// assert_eq!(hub.connection_count(), 0);
    /// assert!(hub.is_shutting_down());
    /// connection.await.unwrap();
    /// # });
    /// ```
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        // Connections deregister as they close.
        let mut live = self.inner.live.subscribe();
        let _ = live.wait_for(|count| *count == 0).await;
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// assert!(!hub.is_shutting_down());
    /// hub.shutdown().await;
    /// assert!(hub.is_shutting_down());
    /// # });
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// A receiver that turns `true` when shutdown starts.
    ///
    /// For background tasks (a broadcast backend's listener, a periodic job) that should stop
    /// with the connections.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// let mut signal = hub.shutdown_signal();
    /// assert!(!*signal.borrow());
    /// hub.shutdown().await;
    /// assert!(signal.has_changed().unwrap());
    /// assert!(*signal.borrow_and_update());
    /// # });
    /// ```
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the maps inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.inner
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn unregister(&self, id: ConnectionId) {
        let mut registry = self.write();
        if let Some(entry) = registry.connections.remove(&id)
            && let Some(principal) = entry.principal
            && let Some(ids) = registry.by_principal.get_mut(&principal)
        {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                registry.by_principal.remove(&principal);
            }
        }
        self.inner.live.send_replace(registry.connections.len());
        #[cfg(feature = "metrics")]
        metrics::gauge!("ws_connections_active").set(registry.connections.len() as f64);
    }
}

/// Queues `message`; a full queue closes the connection as a slow consumer.
fn offer(id: ConnectionId, entry: &Entry, message: Outbound) -> bool {
    match entry.queue.try_send(message) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(connection = %id, "outbound queue full: closing slow consumer");
            #[cfg(feature = "metrics")]
            metrics::counter!("ws_broadcast_errors_total").increment(1);
            entry.close.send_replace(Some(CloseReason::slow_consumer()));
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("connections", &self.connection_count())
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// The connection's id, for [`Hub::close`] and for logs.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let a = hub.register(None, 5, queue.clone(), close.clone()).unwrap();
    /// let b = hub.register(None, 5, queue, close).unwrap();
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The hub it is registered with.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use tokio::sync::{mpsc, watch};
    ///
    /// let hub = Hub::new();
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let registration = hub.register(None, 5, queue, close).unwrap();
    /// assert_eq!(registration.hub().connection_count(), 1); // the same hub, shared
    /// ```
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

/// Handlers reach the hub by taking a `Hub` argument: the transport attaches it to every
/// connection; for in-process use, register it as state (`RouterBuilder::state(hub)`).
impl FromRequest for Hub {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        ctx.extensions()
            .get::<Hub>()
            .or_else(|| ctx.state::<Hub>())
            .cloned()
            .ok_or_else(|| {
                HandlerError::internal(
                    "no Hub: serve the router with a transport, or add RouterBuilder::state(hub)",
                )
            })
    }
}

/// The connection a request arrived on: its id in the hub and the peer's address.
///
/// Handlers take it as an argument when served by a transport; in-process dispatch (tests,
/// [`TestRouter`](crate::testing::TestRouter)) has no connection and answers `internal_error`.
///
/// # Examples
///
/// ```
/// use pkg_router::{ConnectionId, ConnectionInfo, Extensions, HandlerError, RequestModel, Router, Session};
/// use serde_json::Map;
///
/// async fn where_from(conn: ConnectionInfo) -> Result<String, HandlerError> {
///     Ok(match conn.peer {
///         Some(peer) => format!("{} from {}", conn.id, peer.ip()),
///         None => conn.id.to_string(),
///     })
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().handler(1, where_from).build()?;
///
/// // What a transport attaches to each connection's session.
/// let info = ConnectionInfo { id: ConnectionId(7), peer: Some("10.0.0.5:50312".parse().unwrap()) };
/// let session = Session::anonymous().with_extensions(Extensions::new().with(info));
/// let response = router.dispatch(&session, RequestModel::new(1, Map::new())).await;
/// assert_eq!(response.data, "c7 from 10.0.0.5");
///
/// let response = router.dispatch(&Session::anonymous(), RequestModel::new(1, Map::new())).await;
/// assert_eq!(response.error_body().unwrap().code, "internal_error");
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The connection's id.
    pub id: ConnectionId,
    /// The peer's address, when the framework provides it.
    pub peer: Option<std::net::SocketAddr>,
}

impl FromRequest for ConnectionInfo {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        ctx.extensions()
            .get::<ConnectionInfo>()
            .copied()
            .ok_or_else(|| {
                HandlerError::internal("no connection: the router is not served by a transport")
            })
    }
}
