//! The connection [`Hub`]: every live connection, and broadcasts to them.

mod backend;
mod outbound;

pub use backend::{BroadcastBackend, LocalBackend, RemoteDelivery};
pub use outbound::{CloseReason, Outbound, Push, close_code};

use crate::error::HandlerError;
use crate::extract::{FromRequest, RequestContext};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, watch};

/// Identifies one live connection within a hub.
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
/// use pkg_router::{Data, HandlerError, Hub};
/// use serde_json::json;
///
/// async fn create_book(Data(title): Data<String>, hub: Hub) -> Result<(), HandlerError> {
///     // ... store the book ...
///     hub.broadcast(100u32, &json!({"id": 12, "title": title, "action": "created"}))?;
///     Ok(())
/// }
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
#[derive(Debug)]
pub struct Registration {
    hub: Hub,
    id: ConnectionId,
}

/// Why a connection could not be registered.
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
    pub fn new() -> Self {
        Self::with_backend(LocalBackend)
    }

    /// A hub whose broadcasts also go through `backend` (to other nodes).
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

    /// Number of live connections.
    pub fn connection_count(&self) -> usize {
        self.read().connections.len()
    }

    /// Number of live connections of one principal.
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
    pub fn broadcast<T: Serialize + ?Sized>(
        &self,
        pkg_id: impl crate::IntoPkgId,
        data: &T,
    ) -> Result<usize, HandlerError> {
        let push = Arc::new(Push::new(pkg_id.into_pkg_id(), data).map_err(HandlerError::internal)?);
        self.inner.backend.publish(&push);
        Ok(self.deliver_local(&push))
    }

    /// Sends a push to every connection of one principal (all of them, not just the last one).
    /// Returns how many connections it was queued for.
    ///
    /// # Errors
    ///
    /// [`HandlerError::Internal`] if `data` does not serialize.
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

    /// Asks one connection to close.
    pub fn close(&self, id: ConnectionId, reason: CloseReason) {
        if let Some(entry) = self.read().connections.get(&id) {
            entry.close.send_replace(Some(reason));
        }
    }

    /// Starts a graceful shutdown: new connections are refused, and every live connection
    /// stops reading, finishes its in-flight requests (within its grace period) and closes with
    /// 1001. Resolves when no connection is left.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        // Connections deregister as they close.
        let mut live = self.inner.live.subscribe();
        let _ = live.wait_for(|count| *count == 0).await;
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// A receiver that turns `true` when shutdown starts.
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
    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The hub it is registered with.
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
/// Handlers take it as an argument when served by a transport.
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
