//! The connection [`Hub`]: every live connection, rooms, and pushes and closes addressed to a
//! [`Target`].
//!
//! | to reach | call |
//! |---|---|
//! | everyone | [`Hub::broadcast`] (= `hub.to_all().push(..)`) |
//! | every connection of one user | [`Hub::to_principal`]`(id).push(..)` |
//! | every connection whose user holds roles | [`Hub::to_roles`]`([..]).push(..)` |
//! | a room | [`Hub::to_room`]`(name).push(..)`, after [`Hub::join`] |
//! | kick a user everywhere | [`Hub::close_principal`] |
//!
//! A [`BroadcastBackend`] carries each [`HubEvent`] to the other nodes of a cluster; the
//! default [`LocalBackend`] serves one process.

mod backend;
mod outbound;
pub(crate) mod queue;
pub(crate) mod signal;
mod target;

pub use backend::{BroadcastBackend, HubEvent, LocalBackend, RemoteDelivery};
pub(crate) use outbound::Outbound;
pub use outbound::{CloseReason, MAX_REASON_BYTES, Push, close_code};
pub use target::{Audience, Target};

use crate::error::HandlerError;
use crate::extract::{FromRequest, HandlerNeeds, RequestContext};
use crate::principal::Principal;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Identifies one live connection within a hub.
///
/// Ids are unique for the life of the hub (never reused), so logs and metrics can key on them.
/// `Display` prints `c<n>`, as the `connection` field of the transport's spans does.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::ConnectionId;
/// use pkg_router::testing::TestHub;
///
/// let hub = TestHub::new();
/// let conn = hub.connect_as("ann", [] as [&str; 0]);
/// let id: ConnectionId = conn.id();
/// assert_eq!(id.to_string(), format!("c{}", id.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Tracks live connections and sends pushes and closes to them.
///
/// Cheap to clone (shared). A push is serialized once; the same bytes are queued on every
/// connection of its [`Target`] without waiting: a connection whose bounded queue is full is
/// closed with 1008 "slow consumer" and the others are unaffected. One principal may hold
/// several connections, and every one of them receives what is addressed to the principal.
///
/// Give the hub to the router ([`RouterBuilder::hub`](crate::router::RouterBuilder::hub)); handlers
/// take a `Hub` argument, so a broadcast is one line, and a push only readers may see is one
/// more word:
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestHub, TestRouter};
/// use pkg_router::{Data, HandlerError, Hub, Router};
/// use serde_json::json;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct NewBook { title: String }
///
/// async fn create_book(Data(book): Data<NewBook>, hub: Hub) -> Result<(), HandlerError> {
///     // ... store the book ...
///     hub.to_roles(["view-books"]).push(100u32, &json!({"id": 12, "title": book.title}))?;
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let hub = TestHub::new();
/// let reader = hub.connect_as("ann", ["view-books"]);
/// let stranger = hub.connect_as("eve", [] as [&str; 0]);
/// let router = Router::builder().hub(hub.clone()).handler(3, create_book).build()?;
///
/// TestRouter::new(router).call(3, json!({"title": "Dune"})).await.expect_ok();
/// assert_eq!(reader.pushes()[0].data_json(), r#"{"id":12,"title":"Dune"}"#);
/// assert!(stranger.pushes().is_empty());
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    registry: RwLock<Registry>,
    next_id: AtomicU64,
    backend: Arc<dyn BroadcastBackend>,
    shutdown: watch::Sender<bool>,
    /// The number of live connections, watched by `shutdown`.
    live: watch::Sender<usize>,
}

/// Every live connection, indexed by principal and by room.
///
/// Invariant: `by_principal` and `rooms` hold exactly the ids in `connections` whose entry
/// names that principal or room; both drop a key when its last id leaves.
#[derive(Default)]
struct Registry {
    connections: HashMap<ConnectionId, Entry>,
    by_principal: HashMap<String, Vec<ConnectionId>>,
    rooms: HashMap<String, HashSet<ConnectionId>>,
}

struct Entry {
    principal: Option<String>,
    roles: Box<[String]>,
    rooms: Vec<String>,
    queue: queue::Sender,
    close: signal::ConnectionSignal,
}

impl Entry {
    fn has_all_roles(&self, required: &[String]) -> bool {
        crate::principal::holds_all_roles(&self.roles, required)
    }
}

/// A registered connection: dropping it removes the connection from the hub (and its rooms).
/// The transport holds one for as long as the connection lives.
#[derive(Debug)]
pub(crate) struct Registration {
    hub: Hub,
    id: ConnectionId,
}

/// Why a connection could not be registered; the transport closes it with 1008 and this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RegisterError {
    /// The principal already holds the maximum number of connections.
    #[error("Maximum concurrent connections exceeded")]
    TooManyForPrincipal,
    /// The hub is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
}

impl Hub {
    /// A hub for one process (the [`LocalBackend`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    ///
    /// let hub = Hub::new();
    /// assert_eq!(hub.connection_count(), 0);
    /// assert_eq!(hub.broadcast(100u32, "nobody listens")?, 0);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn new() -> Self {
        Self::with_backend(LocalBackend)
    }

    /// A hub whose events also reach other nodes through `backend` (see [`BroadcastBackend`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::LocalBackend;
    /// use pkg_router::Hub;
    ///
    /// let hub = Hub::with_backend(LocalBackend);
    /// assert_eq!(hub.connection_count(), 0);
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

    /// The number of live connections on this node.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let conn = hub.connect_as("ann", [] as [&str; 0]);
    /// assert_eq!(hub.connection_count(), 1);
    /// drop(conn);
    /// assert_eq!(hub.connection_count(), 0);
    /// ```
    pub fn connection_count(&self) -> usize {
        self.read().connections.len()
    }

    /// The connections of one principal on this node (several tabs or devices).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let tab = hub.connect_as("ann", [] as [&str; 0]);
    /// let phone = hub.connect_as("ann", [] as [&str; 0]);
    /// assert_eq!(hub.connections_of("ann"), vec![tab.id(), phone.id()]);
    /// assert!(hub.connections_of("bob").is_empty());
    /// ```
    pub fn connections_of(&self, principal_id: &str) -> Vec<ConnectionId> {
        self.read()
            .by_principal
            .get(principal_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Pushes `data` as `pkg_id` to every connection: `hub.to_all().push(pkg_id, data)`.
    /// Returns how many local connections it was queued on.
    ///
    /// # Errors
    ///
    /// `internal_error` if `data` does not serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let (ann, bob) = (hub.connect_as("ann", [] as [&str; 0]), hub.connect_as("bob", [] as [&str; 0]));
    /// assert_eq!(hub.broadcast(100u32, &serde_json::json!({"id": 1}))?, 2);
    /// assert_eq!(ann.pushes()[0].json_frame(), bob.pushes()[0].json_frame());
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn broadcast<T: Serialize + ?Sized>(
        &self,
        pkg_id: impl crate::pkg_id::IntoPkgId,
        data: &T,
    ) -> Result<usize, HandlerError> {
        self.to_all().push(pkg_id, data)
    }

    /// Every connection ([`Target::All`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use pkg_router::hub::Target;
    ///
    /// assert_eq!(Hub::new().to_all().target(), &Target::All);
    /// ```
    pub fn to_all(&self) -> Audience<'_> {
        Audience::new(self, Target::All)
    }

    /// Every connection of one principal ([`Target::Principal`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let (ann, bob) = (hub.connect_as("ann", [] as [&str; 0]), hub.connect_as("bob", [] as [&str; 0]));
    /// assert_eq!(hub.to_principal("ann").push(101u32, "just for you")?, 1);
    /// assert_eq!((ann.pushes().len(), bob.pushes().len()), (1, 0));
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn to_principal(&self, principal_id: impl Into<String>) -> Audience<'_> {
        Audience::new(self, Target::Principal(principal_id.into()))
    }

    /// Every connection whose principal holds all of `roles` ([`Target::Roles`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let admin = hub.connect_as("root", ["admin", "view-books"]);
    /// let reader = hub.connect_as("ann", ["view-books"]);
    /// assert_eq!(hub.to_roles(["admin", "view-books"]).push(102u32, "audit")?, 1);
    /// assert_eq!((admin.pushes().len(), reader.pushes().len()), (1, 0));
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn to_roles<I, R>(&self, roles: I) -> Audience<'_>
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        Audience::new(self, Target::roles(roles))
    }

    /// Every connection in a room ([`Target::Room`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let (ann, bob) = (hub.connect_as("ann", [] as [&str; 0]), hub.connect_as("bob", [] as [&str; 0]));
    /// hub.join(ann.id(), "book-12");
    /// assert_eq!(hub.to_room("book-12").push(103u32, "new comment")?, 1);
    /// assert_eq!((ann.pushes().len(), bob.pushes().len()), (1, 0));
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn to_room(&self, room: impl Into<String>) -> Audience<'_> {
        Audience::new(self, Target::Room(room.into()))
    }

    /// The connections of any [`Target`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Target;
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// assert_eq!(hub.to(Target::principal("ann")).push(101u32, "hi")?, 1);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn to(&self, target: Target) -> Audience<'_> {
        Audience::new(self, target)
    }

    /// Closes every connection of a principal, on every node, with `reason` (kick a user);
    /// `hub.to_principal(id).close(reason)`. Returns how many local connections were told to
    /// close.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{close_code, CloseReason};
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let tab = hub.connect_as("mallory", [] as [&str; 0]);
    /// let phone = hub.connect_as("mallory", [] as [&str; 0]);
    /// let banned = CloseReason::new(close_code::POLICY, "banned");
    /// assert_eq!(hub.close_principal("mallory", banned.clone()), 2);
    /// assert_eq!((tab.closed(), phone.closed()), (Some(banned.clone()), Some(banned)));
    /// ```
    pub fn close_principal(&self, principal_id: impl Into<String>, reason: CloseReason) -> usize {
        self.to_principal(principal_id).close(reason)
    }

    /// Asks one connection of this node to close with `reason`; unknown ids are ignored.
    /// Returns whether the connection exists.
    ///
    /// The connection's transport sends the close frame after the answers already produced;
    /// the connection leaves the hub once it has closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{close_code, CloseReason};
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let conn = hub.connect_as("ann", [] as [&str; 0]);
    /// assert!(hub.close(conn.id(), CloseReason::new(close_code::POLICY, "banned")));
    /// assert_eq!(conn.closed().map(|r| r.reason), Some("banned".into()));
    /// ```
    pub fn close(&self, id: ConnectionId, reason: CloseReason) -> bool {
        let registry = self.read();
        let Some(entry) = registry.connections.get(&id) else {
            return false;
        };
        entry.close.close(reason);
        true
    }

    /// Adds a connection of this node to a room; returns `false` if the connection is gone.
    /// Joining twice is harmless. A connection leaves its rooms when it closes.
    ///
    /// Handlers take [`ConnectionInfo`] for the id of the connection a request came on.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestHub, TestRouter};
    /// use pkg_router::{ConnectionInfo, Data, HandlerError, Hub, Router};
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Watch { book_id: u64 }
    ///
    /// async fn watch(Data(watch): Data<Watch>, hub: Hub, conn: ConnectionInfo) -> Result<(), HandlerError> {
    ///     hub.join(conn.id, format!("book-{}", watch.book_id));
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = TestHub::new();
    /// let router = Router::builder().hub(hub.clone()).handler(9, watch).build()?;
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// ann.call(&router, 9, serde_json::json!({"book_id": 12})).await.expect_ok();
    /// assert_eq!(hub.rooms_of(ann.id()), vec!["book-12".to_owned()]);
    /// assert_eq!(hub.room_size("book-12"), 1);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn join(&self, id: ConnectionId, room: impl Into<String>) -> bool {
        let room = room.into();
        let mut registry = self.write();
        let Some(entry) = registry.connections.get_mut(&id) else {
            return false;
        };
        if !entry.rooms.contains(&room) {
            entry.rooms.push(room.clone());
        }
        registry.rooms.entry(room).or_default().insert(id);
        true
    }

    /// Removes a connection from a room; returns whether it was in it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// hub.join(ann.id(), "lobby");
    /// assert!(hub.leave(ann.id(), "lobby"));
    /// assert!(!hub.leave(ann.id(), "lobby"));
    /// assert_eq!(hub.room_size("lobby"), 0);
    /// ```
    pub fn leave(&self, id: ConnectionId, room: &str) -> bool {
        let mut registry = self.write();
        let Some(entry) = registry.connections.get_mut(&id) else {
            return false;
        };
        let Some(at) = entry.rooms.iter().position(|joined| joined == room) else {
            return false;
        };
        entry.rooms.swap_remove(at);
        registry.leave_room(id, room);
        true
    }

    /// The rooms a connection of this node is in.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// hub.join(ann.id(), "lobby");
    /// assert_eq!(hub.rooms_of(ann.id()), vec!["lobby".to_owned()]);
    /// ```
    pub fn rooms_of(&self, id: ConnectionId) -> Vec<String> {
        self.read()
            .connections
            .get(&id)
            .map(|entry| entry.rooms.clone())
            .unwrap_or_default()
    }

    /// The number of connections of this node in a room.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// hub.join(ann.id(), "lobby");
    /// assert_eq!(hub.room_size("lobby"), 1);
    /// drop(ann); // closing leaves every room
    /// assert_eq!(hub.room_size("lobby"), 0);
    /// ```
    pub fn room_size(&self, room: &str) -> usize {
        self.read().rooms.get(room).map_or(0, HashSet::len)
    }

    /// Hands `event` to the backend (other nodes).
    pub(crate) fn publish(&self, event: &HubEvent) {
        self.inner.backend.publish(event);
    }

    /// Delivers `event` to this node's connections of its target; returns how many.
    pub(crate) fn deliver_local(&self, event: &HubEvent) -> usize {
        let registry = self.read();
        let mut reached = 0;
        registry.for_each_in(event.target(), |id, entry| {
            let delivered = match event {
                HubEvent::Push { push, .. } => offer(id, entry, Outbound::Push(Arc::clone(push))),
                HubEvent::Close { reason, .. } => {
                    entry.close.close(reason.clone());
                    true
                }
            };
            reached += usize::from(delivered);
        });
        reached
    }

    /// Adds a connection of `principal`: its pushes go to `queue`, a close request to `close`.
    pub(crate) fn register(
        &self,
        principal: &Principal,
        max_per_principal: usize,
        queue: queue::Sender,
        close: signal::ConnectionSignal,
    ) -> Result<Registration, RegisterError> {
        let principal_id = (!principal.is_anonymous()).then(|| principal.id.clone());
        let mut registry = self.write();
        // Under the lock: `shutdown` tells the registered connections after setting the flag.
        if self.is_shutting_down() {
            return Err(RegisterError::ShuttingDown);
        }
        if let Some(id) = &principal_id {
            let held = registry.by_principal.get(id).map_or(0, Vec::len);
            if held >= max_per_principal {
                return Err(RegisterError::TooManyForPrincipal);
            }
        }
        let id = ConnectionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        if let Some(principal) = &principal_id {
            registry
                .by_principal
                .entry(principal.clone())
                .or_default()
                .push(id);
        }
        registry.connections.insert(
            id,
            Entry {
                principal: principal_id,
                roles: principal.roles.clone().into_boxed_slice(),
                rooms: Vec::new(),
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

    /// Starts a graceful shutdown: new connections are refused, and every live connection
    /// answers the requests it has received (within its grace period) and closes with 1001.
    /// Resolves when no connection is left.
    ///
    /// [`pkg_router::axum::serve`](crate::axum::serve) calls it on SIGTERM; call it yourself
    /// from another server's graceful-shutdown hook, after the listener stops accepting.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = TestHub::new();
    /// let conn = hub.connect_as("ann", [] as [&str; 0]);
    /// // A connection ends when shutdown starts (a transport answers its requests first).
    /// let connection = tokio::spawn({
    ///     let hub = hub.clone();
    ///     async move {
    ///         hub.shutdown_started().await;
    ///         drop(conn);
    ///     }
    /// });
    /// hub.shutdown().await; // returns once the connection is gone
    /// assert_eq!(hub.connection_count(), 0);
    /// assert!(hub.is_shutting_down());
    /// connection.await.unwrap();
    /// # });
    /// ```
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        // Every registered connection is told; `register` checks the flag under the write
        // lock, so a connection registering meanwhile is either told here or refused.
        for entry in self.read().connections.values() {
            entry.close.shut_down();
        }
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

    /// Resolves when shutdown starts (at once if it has). For background tasks (a backend's
    /// listener, a periodic job) that should stop with the connections.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// let job = tokio::spawn({
    ///     let hub = hub.clone();
    ///     async move { hub.shutdown_started().await; "stopped" }
    /// });
    /// hub.shutdown().await;
    /// assert_eq!(job.await.unwrap(), "stopped");
    /// # });
    /// ```
    pub async fn shutdown_started(&self) {
        let mut signal = self.inner.shutdown.subscribe();
        // The sender lives in `self`: `wait_for` cannot fail while we hold it.
        let _ = signal.wait_for(|started| *started).await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the maps inconsistent (each change is
        // completed before anything that can panic), so a poisoned lock is still usable.
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
        if let Some(entry) = registry.connections.remove(&id) {
            if let Some(principal) = &entry.principal
                && let Some(ids) = registry.by_principal.get_mut(principal)
            {
                ids.retain(|other| *other != id);
                if ids.is_empty() {
                    registry.by_principal.remove(principal);
                }
            }
            for room in &entry.rooms {
                registry.leave_room(id, room);
            }
        }
        self.inner.live.send_replace(registry.connections.len());
        #[cfg(feature = "metrics")]
        metrics::gauge!("ws_connections_active").set(registry.connections.len() as f64);
    }
}

impl Registry {
    /// Calls `f` for every connection of `target`.
    fn for_each_in(&self, target: &Target, mut f: impl FnMut(ConnectionId, &Entry)) {
        let mut each = |id: &ConnectionId| {
            if let Some(entry) = self.connections.get(id) {
                f(*id, entry);
            }
        };
        match target {
            Target::All => self.connections.keys().for_each(&mut each),
            Target::Principal(principal) => {
                self.by_principal
                    .get(principal)
                    .into_iter()
                    .flatten()
                    .for_each(each);
            }
            Target::Room(room) => self.rooms.get(room).into_iter().flatten().for_each(each),
            Target::Roles(roles) => {
                for (id, entry) in &self.connections {
                    if entry.has_all_roles(roles) {
                        f(*id, entry);
                    }
                }
            }
        }
    }

    fn leave_room(&mut self, id: ConnectionId, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

/// Queues `message`; a full queue closes the connection as a slow consumer.
fn offer(id: ConnectionId, entry: &Entry, message: Outbound) -> bool {
    match entry.queue.try_send(message) {
        Ok(()) => true,
        Err(queue::TrySendError::Full) => {
            tracing::warn!(connection = %id, "outbound queue full: closing slow consumer");
            #[cfg(feature = "metrics")]
            metrics::counter!("ws_broadcast_errors_total").increment(1);
            entry.close.close(CloseReason::slow_consumer());
            false
        }
        Err(queue::TrySendError::Closed) => false,
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
    pub(crate) fn id(&self) -> ConnectionId {
        self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

/// Handlers reach the hub by taking a `Hub` argument; the router must have one
/// ([`RouterBuilder::hub`](crate::router::RouterBuilder::hub)), which `build()` checks.
impl FromRequest for Hub {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        ctx.state::<Hub>().cloned().ok_or_else(|| {
            HandlerError::internal("no Hub: add RouterBuilder::hub(hub) to the router")
        })
    }

    fn declare(needs: &mut HandlerNeeds) {
        needs.state::<Hub>();
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
/// use pkg_router::{ConnectionInfo, HandlerError, RequestModel, Router};
/// use pkg_router::hub::ConnectionId;
/// use pkg_router::router::{Extensions, Session};
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
