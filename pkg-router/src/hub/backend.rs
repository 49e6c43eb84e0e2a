//! [`BroadcastBackend`]: how pushes and closes reach the other nodes of a cluster.

use super::{CloseReason, Hub, Inner, Push, Target};
use std::fmt;
use std::sync::Arc;
use std::sync::Weak;

/// What a hub sends to its connections, and what a backend carries between nodes: a push or a
/// close, with the [`Target`] that picks the connections on each node.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::{HubEvent, Target};
/// use pkg_router::hub::Push;
/// use std::sync::Arc;
///
/// let event = HubEvent::Push { target: Target::room("lobby"), push: Arc::new(Push::new(100, "hi")?) };
/// assert_eq!(event.target(), &Target::room("lobby"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum HubEvent {
    /// Queue `push` on every connection of `target`.
    Push {
        /// Who receives it.
        target: Target,
        /// The push, serialized once; its [`Push::json_frame`] is the natural payload to send
        /// over a network ([`Push::from_json_frame`] rebuilds it unchanged).
        push: Arc<Push>,
    },
    /// Close every connection of `target` with `reason` (a kick).
    Close {
        /// Who is closed.
        target: Target,
        /// The close code and reason.
        reason: CloseReason,
    },
}

impl HubEvent {
    /// The target of the event.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{HubEvent, Target};
    /// use pkg_router::hub::CloseReason;
    ///
    /// let kick = HubEvent::Close { target: Target::principal("u-1"), reason: CloseReason::going_away() };
    /// assert_eq!(kick.target(), &Target::principal("u-1"));
    /// ```
    pub fn target(&self) -> &Target {
        match self {
            Self::Push { target, .. } | Self::Close { target, .. } => target,
        }
    }
}

/// Carries hub events between nodes.
///
/// The hub always delivers an event to its own connections; a backend additionally forwards
/// it to other nodes and hands events from other nodes back through [`RemoteDelivery`].
/// [`LocalBackend`] (the default) forwards nothing. A Redis pub/sub backend plugs in here
/// without any change to handlers: events carry their [`Target`], never a list of
/// connections, and each node resolves the target against its own connections.
///
/// # Examples
///
/// Two nodes joined by an in-memory bus, standing in for Redis pub/sub:
///
/// ```
/// use pkg_router::hub::{BroadcastBackend, HubEvent, RemoteDelivery};
/// use pkg_router::testing::TestHub;
/// use pkg_router::Hub;
/// use std::sync::{Arc, Mutex};
///
/// /// Every node's way back in, by node number.
/// #[derive(Clone, Default)]
/// struct Bus(Arc<Mutex<Vec<(usize, RemoteDelivery)>>>);
///
/// struct Node { id: usize, bus: Bus }
///
/// impl BroadcastBackend for Node {
///     fn start(&self, delivery: RemoteDelivery) {
///         self.bus.0.lock().unwrap().push((self.id, delivery));
///     }
///
///     fn publish(&self, event: &HubEvent) {
///         // A real backend serializes the event, sends it, and rebuilds it on the other side.
///         for (id, delivery) in self.bus.0.lock().unwrap().iter() {
///             if *id != self.id {
///                 delivery.deliver(event);
///             }
///         }
///     }
/// }
///
/// let bus = Bus::default();
/// let node_a = Hub::with_backend(Node { id: 1, bus: bus.clone() });
/// let node_b = TestHub::from(Hub::with_backend(Node { id: 2, bus: bus.clone() }));
///
/// // A client connected to node B.
/// let client = node_b.connect_as("ann", [] as [&str; 0]);
///
/// // A handler on node A pushes to ann.
/// assert_eq!(node_a.to_principal("ann").push(100u32, "book created")?, 0); // none on A
/// assert_eq!(client.pushes()[0].data_json(), r#""book created""#);
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
pub trait BroadcastBackend: Send + Sync + 'static {
    /// Called once, when the hub is created, with the way back into the hub.
    ///
    /// Keep `delivery` (it does not keep the hub alive) and start listening for other nodes'
    /// events here, typically in a spawned task that ends when
    /// [`deliver`](RemoteDelivery::deliver) returns `None`. The default ignores it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{BroadcastBackend, HubEvent, RemoteDelivery, Target};
    /// use pkg_router::testing::TestHub;
    /// use pkg_router::Hub;
    /// use pkg_router::hub::Push;
    /// use std::sync::{Arc, Mutex};
    ///
    /// /// Hands the delivery handle to whoever listens for remote events.
    /// #[derive(Clone, Default)]
    /// struct Listener(Arc<Mutex<Option<RemoteDelivery>>>);
    ///
    /// impl BroadcastBackend for Listener {
    ///     fn start(&self, delivery: RemoteDelivery) {
    ///         *self.0.lock().unwrap() = Some(delivery);
    ///     }
    ///     fn publish(&self, _event: &HubEvent) {}
    /// }
    ///
    /// let listener = Listener::default();
    /// let hub = TestHub::from(Hub::with_backend(listener.clone()));
    /// let delivery = listener.0.lock().unwrap().clone().expect("start ran in with_backend");
    ///
    /// let _client = hub.connect_as("ann", [] as [&str; 0]);
    /// let remote = HubEvent::Push { target: Target::All, push: Arc::new(Push::new(100, "from another node")?) };
    /// assert_eq!(delivery.deliver(&remote), Some(1));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn start(&self, delivery: RemoteDelivery) {
        let _ = delivery;
    }

    /// Forwards an event to the other nodes. Must not block: queue and return.
    ///
    /// Called on the caller's task (a handler's, usually), before the local delivery. Events
    /// that arrive through [`RemoteDelivery`] are not published again.
    ///
    /// # Examples
    ///
    /// Queueing for a background sender:
    ///
    /// ```
    /// use pkg_router::hub::{BroadcastBackend, HubEvent};
    /// use pkg_router::Hub;
    /// use pkg_router::hub::Push;
    /// use tokio::sync::mpsc;
    ///
    /// struct Forward(mpsc::UnboundedSender<bytes::Bytes>);
    ///
    /// impl BroadcastBackend for Forward {
    ///     fn publish(&self, event: &HubEvent) {
    ///         // Never waits; a task owning the receiver writes to the network.
    ///         if let HubEvent::Push { push, .. } = event {
    ///             let _ = self.0.send(push.json_frame().clone());
    ///         }
    ///     }
    /// }
    ///
    /// let (tx, mut outgoing) = mpsc::unbounded_channel();
    /// let hub = Hub::with_backend(Forward(tx));
    /// hub.broadcast(100u32, &serde_json::json!({"id": 1}))?;
    /// let frame = outgoing.try_recv().unwrap();
    /// assert_eq!(Push::from_json_frame(&frame).unwrap().data_json(), r#"{"id":1}"#);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    fn publish(&self, event: &HubEvent);
}

/// Single-process delivery: nothing to forward.
///
/// The backend of [`Hub::new`]; enough whenever one process serves every connection.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::LocalBackend;
/// use pkg_router::testing::TestHub;
/// use pkg_router::Hub;
///
/// let hub = TestHub::from(Hub::with_backend(LocalBackend)); // the same as Hub::new()
/// let client = hub.connect_as("ann", [] as [&str; 0]);
/// assert_eq!(hub.broadcast(100u32, "hi")?, 1);
/// assert_eq!(client.pushes().len(), 1);
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalBackend;

impl BroadcastBackend for LocalBackend {
    fn publish(&self, _event: &HubEvent) {}
}

/// Hands events received from other nodes to this node's connections.
///
/// A backend receives it in [`BroadcastBackend::start`]. It holds the hub weakly, so a
/// backend's listener task does not keep a dropped hub alive.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::{BroadcastBackend, HubEvent, RemoteDelivery, Target};
/// use pkg_router::Hub;
/// use pkg_router::hub::Push;
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Clone, Default)]
/// struct Keep(Arc<Mutex<Option<RemoteDelivery>>>);
///
/// impl BroadcastBackend for Keep {
///     fn start(&self, delivery: RemoteDelivery) {
///         *self.0.lock().unwrap() = Some(delivery);
///     }
///     fn publish(&self, _event: &HubEvent) {}
/// }
///
/// let keep = Keep::default();
/// let hub = Hub::with_backend(keep.clone());
/// let delivery = keep.0.lock().unwrap().take().unwrap();
/// let frame = br#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{}}"#;
/// let event = HubEvent::Push { target: Target::All, push: Arc::new(Push::from_json_frame(frame)?) };
///
/// assert_eq!(delivery.deliver(&event), Some(0)); // the hub is alive, no connections
/// drop(hub);
/// assert_eq!(delivery.deliver(&event), None); // stop listening
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct RemoteDelivery {
    hub: Weak<Inner>,
}

impl RemoteDelivery {
    pub(super) fn new(hub: Weak<Inner>) -> Self {
        Self { hub }
    }

    /// Delivers `event` to this node's connections of its target; returns how many, or `None`
    /// once the hub is gone (the backend should stop then).
    ///
    /// Like a local push, it never waits: connections with a full queue are closed as slow
    /// consumers.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{BroadcastBackend, HubEvent, RemoteDelivery, Target};
    /// use pkg_router::testing::TestHub;
    /// use pkg_router::Hub;
    /// use pkg_router::hub::Push;
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[derive(Clone, Default)]
    /// struct Keep(Arc<Mutex<Option<RemoteDelivery>>>);
    ///
    /// impl BroadcastBackend for Keep {
    ///     fn start(&self, delivery: RemoteDelivery) {
    ///         *self.0.lock().unwrap() = Some(delivery);
    ///     }
    ///     fn publish(&self, _event: &HubEvent) {}
    /// }
    ///
    /// let keep = Keep::default();
    /// let hub = TestHub::from(Hub::with_backend(keep.clone()));
    /// let delivery = keep.0.lock().unwrap().take().unwrap();
    /// let client = hub.connect_as("ann", [] as [&str; 0]);
    ///
    /// // A frame another node published.
    /// let frame = br#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"id":3}}"#;
    /// let event = HubEvent::Push { target: Target::All, push: Arc::new(Push::from_json_frame(frame)?) };
    /// assert_eq!(delivery.deliver(&event), Some(1));
    /// assert_eq!(&client.pushes()[0].json_frame()[..], &frame[..]); // forwarded as it came
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn deliver(&self, event: &HubEvent) -> Option<usize> {
        Hub::from_weak(&self.hub).map(|hub| hub.deliver_local(event))
    }
}

impl fmt::Debug for RemoteDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteDelivery").finish_non_exhaustive()
    }
}
