use super::{Hub, Inner, Push};
use std::fmt;
use std::sync::Arc;
use std::sync::Weak;

/// Carries broadcasts between nodes.
///
/// The hub always delivers a broadcast to its own connections; a backend additionally forwards
/// it to other nodes and hands messages from other nodes back through [`RemoteDelivery`].
/// [`LocalBackend`] (the default) forwards nothing. A Redis pub/sub backend plugs in here
/// without any change to handlers.
///
/// # Examples
///
/// Two nodes joined by an in-memory bus, standing in for Redis pub/sub:
///
/// ```
/// use pkg_router::{BroadcastBackend, Hub, Outbound, Push, RemoteDelivery};
/// use std::sync::{Arc, Mutex};
/// use tokio::sync::{mpsc, watch};
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
///     fn publish(&self, push: &Arc<Push>) {
///         // A real backend sends the frame over the network and rebuilds the push there.
///         let frame = push.json_frame().clone();
///         for (id, delivery) in self.bus.0.lock().unwrap().iter() {
///             if *id != self.id {
///                 if let Ok(remote) = Push::from_json_frame(&frame) {
///                     delivery.deliver(&Arc::new(remote));
///                 }
///             }
///         }
///     }
/// }
///
/// let bus = Bus::default();
/// let node_a = Hub::with_backend(Node { id: 1, bus: bus.clone() });
/// let node_b = Hub::with_backend(Node { id: 2, bus: bus.clone() });
///
/// // A client connected to node B.
/// let (queue, mut pushes) = mpsc::channel(8);
/// let (close, _closed) = watch::channel(None);
/// let _client = node_b.register(None, 5, queue, close).unwrap();
///
/// // A handler on node A broadcasts.
/// assert_eq!(node_a.broadcast(100u32, "book created")?, 0); // no local connection on A
/// let Ok(Outbound::Push(push)) = pushes.try_recv() else { panic!("not delivered") };
/// assert_eq!(push.data_json(), r#""book created""#);
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
pub trait BroadcastBackend: Send + Sync + 'static {
    /// Called once, when the hub is created, with the way back into the hub.
    ///
    /// Keep `delivery` (it does not keep the hub alive) and start listening for other nodes'
    /// pushes here, typically in a spawned task that ends when
    /// [`deliver`](RemoteDelivery::deliver) returns `None`. The default ignores it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BroadcastBackend, Hub, Push, RemoteDelivery};
    /// use std::sync::{Arc, Mutex};
    /// use tokio::sync::{mpsc, watch};
    ///
    /// /// Hands the delivery handle to whoever listens for remote pushes.
    /// #[derive(Clone, Default)]
    /// struct Listener(Arc<Mutex<Option<RemoteDelivery>>>);
    ///
    /// impl BroadcastBackend for Listener {
    ///     fn start(&self, delivery: RemoteDelivery) {
    ///         *self.0.lock().unwrap() = Some(delivery);
    ///     }
    ///     fn publish(&self, _push: &Arc<Push>) {}
    /// }
    ///
    /// let listener = Listener::default();
    /// let hub = Hub::with_backend(listener.clone());
    /// let delivery = listener.0.lock().unwrap().clone().expect("start ran in with_backend");
    ///
    /// let (queue, _pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let _client = hub.register(None, 5, queue, close).unwrap();
    /// let remote = Arc::new(Push::new(100, "from another node")?);
    /// assert_eq!(delivery.deliver(&remote), Some(1));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn start(&self, delivery: RemoteDelivery) {
        let _ = delivery;
    }

    /// Forwards a push to other nodes (its [`Push::json_frame`] is the natural payload).
    /// Must not block: queue and return.
    ///
    /// Called by [`Hub::broadcast`] on the handler's task, before the local delivery. Pushes
    /// that arrive through [`RemoteDelivery`] are not published again.
    ///
    /// # Examples
    ///
    /// Queueing for a background sender:
    ///
    /// ```
    /// use pkg_router::{BroadcastBackend, Hub, Push};
    /// use std::sync::Arc;
    /// use tokio::sync::mpsc;
    ///
    /// struct Forward(mpsc::UnboundedSender<bytes::Bytes>);
    ///
    /// impl BroadcastBackend for Forward {
    ///     fn publish(&self, push: &Arc<Push>) {
    ///         // Never waits; a task owning the receiver writes to the network.
    ///         let _ = self.0.send(push.json_frame().clone());
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
    fn publish(&self, push: &Arc<Push>);
}

/// Single-process delivery: nothing to forward.
///
/// The backend of [`Hub::new`]; enough whenever one process serves every connection.
///
/// # Examples
///
/// ```
/// use pkg_router::{Hub, LocalBackend};
/// use tokio::sync::{mpsc, watch};
///
/// let hub = Hub::with_backend(LocalBackend); // the same as Hub::new()
/// let (queue, mut pushes) = mpsc::channel(8);
/// let (close, _closed) = watch::channel(None);
/// let _client = hub.register(None, 5, queue, close).unwrap();
/// assert_eq!(hub.broadcast(100u32, "hi")?, 1);
/// assert!(pushes.try_recv().is_ok());
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalBackend;

impl BroadcastBackend for LocalBackend {
    fn publish(&self, _push: &Arc<Push>) {}
}

/// Hands frames received from other nodes to this node's connections.
///
/// A backend receives it in [`BroadcastBackend::start`]. It holds the hub weakly, so a
/// backend's listener task does not keep a dropped hub alive.
///
/// # Examples
///
/// ```
/// use pkg_router::{BroadcastBackend, Hub, Push, RemoteDelivery};
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Clone, Default)]
/// struct Keep(Arc<Mutex<Option<RemoteDelivery>>>);
///
/// impl BroadcastBackend for Keep {
///     fn start(&self, delivery: RemoteDelivery) {
///         *self.0.lock().unwrap() = Some(delivery);
///     }
///     fn publish(&self, _push: &Arc<Push>) {}
/// }
///
/// let keep = Keep::default();
/// let hub = Hub::with_backend(keep.clone());
/// let delivery = keep.0.lock().unwrap().take().unwrap();
/// let push = Arc::new(Push::from_json_frame(br#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{}}"#)?);
///
/// assert_eq!(delivery.deliver(&push), Some(0)); // the hub is alive, no connections
/// drop(hub);
/// assert_eq!(delivery.deliver(&push), None); // stop listening
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

    /// Queues `push` on every local connection; returns how many, or `None` once the hub is
    /// gone (the backend should stop then).
    ///
    /// Like [`Hub::broadcast`], it never waits: connections with a full queue are closed as
    /// slow consumers.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BroadcastBackend, Hub, Outbound, Push, RemoteDelivery};
    /// use std::sync::{Arc, Mutex};
    /// use tokio::sync::{mpsc, watch};
    ///
    /// #[derive(Clone, Default)]
    /// struct Keep(Arc<Mutex<Option<RemoteDelivery>>>);
    ///
    /// impl BroadcastBackend for Keep {
    ///     fn start(&self, delivery: RemoteDelivery) {
    ///         *self.0.lock().unwrap() = Some(delivery);
    ///     }
    ///     fn publish(&self, _push: &Arc<Push>) {}
    /// }
    ///
    /// let keep = Keep::default();
    /// let hub = Hub::with_backend(keep.clone());
    /// let delivery = keep.0.lock().unwrap().take().unwrap();
    ///
    /// let (queue, mut pushes) = mpsc::channel(8);
    /// let (close, _closed) = watch::channel(None);
    /// let _client = hub.register(None, 5, queue, close).unwrap();
    ///
    /// // A frame another node published.
    /// let frame = br#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"id":3}}"#;
    /// assert_eq!(delivery.deliver(&Arc::new(Push::from_json_frame(frame)?)), Some(1));
    /// let Ok(Outbound::Push(push)) = pushes.try_recv() else { panic!() };
    /// assert_eq!(&push.json_frame()[..], &frame[..]); // forwarded as it came
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn deliver(&self, push: &Arc<Push>) -> Option<usize> {
        Hub::from_weak(&self.hub).map(|hub| hub.deliver_local(push))
    }
}

impl fmt::Debug for RemoteDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteDelivery").finish_non_exhaustive()
    }
}
