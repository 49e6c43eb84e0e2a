//! [`TestHub`]: a hub whose connections are test doubles that capture their pushes.

use crate::envelope::ResponseModel;
use crate::hub::queue;
use crate::hub::signal::ConnectionSignal;
use crate::hub::{
    BroadcastBackend, CloseReason, ConnectionId, ConnectionInfo, Hub, HubEvent, Outbound, Push,
    Registration, RemoteDelivery, Target,
};
use crate::pkg_id::IntoPkgId;
use crate::principal::Principal;
use crate::router::{Router, Session};
use crate::state::Extensions;
use serde_json::Value;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

/// Pushes a test connection holds before [`TestConnection::pushes`] collects them; more close
/// it as a slow consumer, as a real connection's queue would.
const TEST_QUEUE: usize = 4_096;

/// A [`Hub`] for tests: connect test doubles to it, push (or run handlers that push), then
/// look at what each connection received and at every event sent, per target. No socket, no
/// channel, no runtime needed.
///
/// It dereferences to the [`Hub`]; give it to a router with
/// [`RouterBuilder::hub`](crate::router::RouterBuilder::hub).
///
/// # Examples
///
/// ```
/// use pkg_router::hub::Target;
/// use pkg_router::testing::{ResponseExt, TestHub, TestRouter};
/// use pkg_router::{HandlerError, Hub, Router};
///
/// async fn announce(hub: Hub) -> Result<(), HandlerError> {
///     hub.to_room("lobby").push(100u32, "welcome")?;
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let hub = TestHub::new();
/// let router = Router::builder().hub(hub.clone()).handler(1, announce).build()?;
/// let ann = hub.connect_as("ann", [] as [&str; 0]);
/// hub.join(ann.id(), "lobby");
///
/// TestRouter::new(router).call(1, serde_json::json!({})).await.expect_ok();
/// assert_eq!(ann.pushes()[0].data_json(), r#""welcome""#);
/// let sent = hub.sent();
/// assert_eq!(sent.len(), 1);
/// assert_eq!(sent[0].0, Target::room("lobby"));
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct TestHub {
    hub: Hub,
    sent: Arc<Mutex<Vec<HubEvent>>>,
}

/// Records what the hub publishes (every push and close made on this node).
struct Recorder(Arc<Mutex<Vec<HubEvent>>>);

impl BroadcastBackend for Recorder {
    fn start(&self, _delivery: RemoteDelivery) {}

    fn publish(&self, event: &HubEvent) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
    }
}

impl TestHub {
    /// A hub that records what is sent through it ([`sent`](Self::sent)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// hub.broadcast(100u32, "hello")?;
    /// assert_eq!(hub.sent().len(), 1);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn new() -> Self {
        let sent = Arc::new(Mutex::new(Vec::new()));
        Self {
            hub: Hub::with_backend(Recorder(Arc::clone(&sent))),
            sent,
        }
    }

    /// The hub.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let shared: pkg_router::Hub = hub.hub().clone();
    /// assert_eq!(shared.connection_count(), 0);
    /// ```
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Connects a test double as the principal with id (and name) `principal_id` and `roles`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", ["view-books"]);
    /// assert_eq!(hub.connections_of("ann"), vec![ann.id()]);
    /// ```
    pub fn connect_as<I, R>(&self, principal_id: &str, roles: I) -> TestConnection
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.connect(Principal::new(principal_id, principal_id).with_roles(roles))
    }

    /// Connects a test double as `principal` (anonymous ones too).
    ///
    /// # Panics
    ///
    /// When the hub refuses the connection (it is shutting down, or the principal holds
    /// [`MAX_TEST_CONNECTIONS_PER_PRINCIPAL`] connections already).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    /// use pkg_router::Principal;
    ///
    /// let hub = TestHub::new();
    /// let guest = hub.connect(Principal::anonymous());
    /// assert_eq!(hub.broadcast(100u32, "hi")?, 1);
    /// assert_eq!(guest.pushes().len(), 1);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    #[track_caller]
    pub fn connect(&self, principal: Principal) -> TestConnection {
        let (queue, pushes) = queue::channel(TEST_QUEUE);
        let closed = ConnectionSignal::new();
        let registration = match self.hub.register(
            &principal,
            MAX_TEST_CONNECTIONS_PER_PRINCIPAL,
            queue,
            closed.clone(),
        ) {
            Ok(registration) => registration,
            Err(err) => panic!("the test hub refused the connection: {err}"),
        };
        TestConnection {
            session: Session::new(principal).with_extensions(Extensions::new().with(
                ConnectionInfo {
                    id: registration.id(),
                    peer: None,
                },
            )),
            registration,
            queue: Mutex::new(pushes),
            received: Mutex::new(Vec::new()),
            closed,
        }
    }

    /// Every push and close sent through this hub so far, with its target, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Target;
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// hub.to_roles(["admin"]).push(102u32, "audit")?;
    /// let (target, push) = &hub.sent()[0];
    /// assert_eq!((target, push.as_ref().map(|p| p.pkg_id())), (&Target::roles(["admin"]), Some(102)));
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn sent(&self) -> Vec<(Target, Option<Arc<Push>>)> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|event| match event {
                HubEvent::Push { target, push } => (target.clone(), Some(Arc::clone(push))),
                HubEvent::Close { target, .. } => (target.clone(), None),
            })
            .collect()
    }
}

/// Connections one principal may hold on a [`TestHub`].
pub const MAX_TEST_CONNECTIONS_PER_PRINCIPAL: usize = 64;

impl Default for TestHub {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for TestHub {
    type Target = Hub;

    fn deref(&self) -> &Hub {
        &self.hub
    }
}

impl From<Hub> for TestHub {
    /// Wraps a hub of your own (with its own backend); [`TestHub::sent`] then records nothing.
    fn from(hub: Hub) -> Self {
        Self {
            hub,
            sent: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl From<TestHub> for Hub {
    fn from(test: TestHub) -> Hub {
        test.hub
    }
}

impl fmt::Debug for TestHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestHub")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

/// A test double of a connection on a [`TestHub`]: it collects its pushes, tells whether it
/// was asked to close, and makes requests as its principal. Dropping it disconnects it.
pub struct TestConnection {
    registration: Registration,
    session: Session,
    queue: Mutex<queue::Receiver>,
    received: Mutex<Vec<Arc<Push>>>,
    closed: ConnectionSignal,
}

impl TestConnection {
    /// Its id in the hub.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let (a, b) = (hub.connect_as("ann", [] as [&str; 0]), hub.connect_as("ann", [] as [&str; 0]));
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> ConnectionId {
        self.registration.id()
    }

    /// Every push it received so far, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// hub.broadcast(100u32, "one")?;
    /// hub.broadcast(100u32, "two")?;
    /// let texts: Vec<String> = ann.pushes().iter().map(|p| p.data_json().to_owned()).collect();
    /// assert_eq!(texts, [r#""one""#, r#""two""#]);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn pushes(&self) -> Vec<Arc<Push>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(item) = queue.try_recv() {
            if let Outbound::Push(push) = item {
                received.push(push);
            }
        }
        received.clone()
    }

    /// The pushes received since the last call of `take_pushes` (or `pushes`), forgetting
    /// them: for long runs that would otherwise keep every push.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// hub.broadcast(100u32, "one")?;
    /// assert_eq!(ann.take_pushes().len(), 1);
    /// assert!(ann.take_pushes().is_empty());
    /// assert!(ann.pushes().is_empty());
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn take_pushes(&self) -> Vec<Arc<Push>> {
        self.pushes();
        std::mem::take(&mut *self.received.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The close reason, once something asked this connection to close (a kick, a slow
    /// consumer); `None` while it may stay.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    /// use pkg_router::hub::CloseReason;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// assert_eq!(ann.closed(), None);
    /// hub.close(ann.id(), CloseReason::going_away());
    /// assert_eq!(ann.closed(), Some(CloseReason::going_away()));
    /// ```
    pub fn closed(&self) -> Option<CloseReason> {
        self.closed.reason()
    }

    /// Sends a request to `router` as this connection: its principal, and its
    /// [`ConnectionInfo`] for handlers that join rooms.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestHub};
    /// use pkg_router::{ConnectionInfo, HandlerError, Principal, Router};
    ///
    /// async fn who(me: Principal, conn: ConnectionInfo) -> Result<String, HandlerError> {
    ///     Ok(format!("{} on {}", me.name, conn.id))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = TestHub::new();
    /// let router = Router::builder().handler(1, who).build()?;
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// let answer = ann.call(&router, 1, serde_json::json!({})).await;
    /// assert_eq!(answer.expect_ok(), &format!("ann on {}", ann.id()));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub async fn call(
        &self,
        router: &Router,
        pkg_id: impl IntoPkgId,
        data: Value,
    ) -> ResponseModel {
        router
            .dispatch(&self.session, super::request(pkg_id, data))
            .await
    }
}

impl fmt::Debug for TestConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConnection")
            .field("id", &self.registration.id())
            .field("principal", &self.session.principal().id)
            .finish_non_exhaustive()
    }
}
