//! A typed Rust client for a pkg-router server: authenticate once, then make calls, many at a
//! time on one socket, and receive pushes. Nobody hand-writes an envelope, an auth handshake
//! or a loop matching answers by `req_id` again.
//!
//! ```no_run
//! use pkg_router::client::{Client, Reconnect};
//!
//! // In an "api" crate that the server and its clients both depend on: one source of truth
//! // for the ids and the payload types.
//! pkg_router::pkg_ids! {
//!     /// The API's package ids.
//!     pub PkgID {
//!         /// Create a book.
//!         CREATE_BOOK = 3,
//!         /// Push: a book was created.
//!         #[push]
//!         BOOK_CREATED = 100,
//!     }
//! }
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct CreateBook { title: String, author_id: i64 }
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug)]
//! struct Book { id: i64, title: String }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect("ws://127.0.0.1:8000/web")
//!     .token(std::env::var("TOKEN")?)
//!     .reconnect(Reconnect::default())
//!     .await?;
//!
//! let mut created = client.pushes_of(PkgID::BOOK_CREATED);
//! let new = CreateBook { title: "Dune".into(), author_id: 1 };
//! let book: Book = client.call(PkgID::CREATE_BOOK, &new).await?;
//! println!("created {book:?}; pushed: {:?}", created.next().await);
//! # Ok(())
//! # }
//! ```
//!
//! The server registers its handlers under the same enum (`#[pkg_handler(id = PkgID::CREATE_BOOK)]`
//! taking `Data<CreateBook>`), so an id or a field renamed on one side is a compile error on the
//! other.
//!
//! - **Calls** ([`Client::call`]) are correlated by `req_id`; each has a timeout
//!   ([`ClientBuilder::call_timeout`]); dropping a call's future forgets it (its late answer is
//!   discarded) and leaves the connection healthy. A call that gets no answer fails with an
//!   error that says whether the request may have run ([`CallError::may_have_run`]); calls are
//!   never retried for you.
//! - **Pushes** ([`Client::pushes`], [`Client::pushes_of`]) go to every subscription, each with
//!   its own bounded buffer: a slow subscriber loses its oldest pushes ([`Pushes::lagged`]),
//!   and never stalls calls.
//! - **Reconnecting** ([`ClientBuilder::reconnect`]) retries with exponential backoff and a
//!   fresh token from [`ClientBuilder::token_provider`], then runs
//!   [`ClientBuilder::on_reconnect`] (to join rooms again). Calls in flight when the connection
//!   drops fail; calls made while it is down fail at once with [`CallError::NotConnected`].
//! - **Typed ids**: any [`IntoPkgId`], so a `pkg_ids!` enum shared with the server in an "api"
//!   crate gives both sides one source of truth for ids and payload types.
//!
//! - **Formats** ([`ClientBuilder::format`]): JSON text frames by default, or with the
//!   `protobuf` feature the binary format of [protocol §7](crate::protocol#7-protobuf-format)
//!   ([`Format::Protobuf`]); calls, pages and pushes behave the same in both.
//!
//! Only `ws://` is built in; for `wss://`, enable one of `tokio-tungstenite`'s TLS features in
//! your own `Cargo.toml` (features unify).

mod error;
mod pushes;

pub use error::{CallError, ConnectError};
pub use pushes::{PushMessage, Pushes};

use pushes::Subscribers;

use crate::envelope::ResponseModel;
use crate::hub::close_code;
use crate::pagination::PageMeta;
use crate::pagination::Paginated;
use crate::pkg_id::IntoPkgId;
use crate::status::RspCode;
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// The wire format a [`Client`] speaks ([protocol §1](crate::protocol#1-transport)), set with
/// [`ClientBuilder::format`].
///
/// # Examples
///
/// ```
/// use pkg_router::client::Format;
///
/// assert_eq!(Format::default(), Format::Json);
/// assert_eq!(Format::Json.query_value(), "json");
/// # #[cfg(feature = "protobuf")]
/// assert_eq!(Format::Protobuf.query_value(), "protobuf");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JSON text frames (the default).
    #[default]
    Json,
    /// Protobuf binary frames ([`crate::protobuf`]).
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    Protobuf,
}

impl Format {
    /// The `?format=` value that asks the server for this format.
    pub fn query_value(self) -> &'static str {
        match self {
            Self::Json => "json",
            #[cfg(feature = "protobuf")]
            Self::Protobuf => "protobuf",
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type TokenProvider = Arc<dyn Fn() -> BoxFuture<Result<String, String>> + Send + Sync>;
type ReconnectHook = Arc<dyn Fn(Client) -> BoxFuture<()> + Send + Sync>;

/// How a [`Client`] reconnects: exponential backoff from `initial` to `max`, without a limit
/// on attempts (until [`Client::close`]).
///
/// # Examples
///
/// ```
/// use pkg_router::client::Reconnect;
/// use std::time::Duration;
///
/// let reconnect = Reconnect::default();
/// assert_eq!((reconnect.initial, reconnect.max), (Duration::from_millis(100), Duration::from_secs(10)));
/// let fast = Reconnect::new(Duration::from_millis(10), Duration::from_secs(1));
/// assert_eq!(fast.initial, Duration::from_millis(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconnect {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay (each failure doubles the delay up to it).
    pub max: Duration,
}

impl Reconnect {
    /// Backoff from `initial` to `max`.
    ///
    /// # Examples
    ///
    /// See [`Reconnect`].
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }
}

impl Default for Reconnect {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// A client being configured; await it to connect. Made by [`Client::connect`].
#[must_use = "a client connects when awaited"]
pub struct ClientBuilder {
    url: String,
    format: Format,
    token: Option<TokenProvider>,
    call_timeout: Duration,
    connect_timeout: Duration,
    push_buffer: usize,
    reconnect: Option<Reconnect>,
    on_reconnect: Option<ReconnectHook>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("call_timeout", &self.call_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("push_buffer", &self.push_buffer)
            .field("reconnect", &self.reconnect)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Authenticates with this token (the bare token; `Bearer ` is added). Without a token
    /// the client sends no auth frame (for servers with optional or disabled authentication).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// let client = pkg_router::client::Client::connect("ws://127.0.0.1:8000/web").token("eyJ...").await?;
    /// # Ok(()) }
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> Self {
        let token: String = token.into();
        self.token = Some(Arc::new(move || {
            let token = token.clone();
            Box::pin(async move { Ok(token) })
        }));
        self
    }

    /// Gets a fresh token for every connection (the first and each reconnect), e.g. from an
    /// identity provider. An `Err` fails that attempt ([`ConnectError::Token`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// use pkg_router::client::{Client, Reconnect};
    ///
    /// let client = Client::connect("ws://127.0.0.1:8000/web")
    ///     .token_provider(|| async { std::env::var("TOKEN").map_err(|e| e.to_string()) })
    ///     .reconnect(Reconnect::default())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        self.token = Some(Arc::new(move || Box::pin(provider())));
        self
    }

    /// How long a call waits for its answer (default 30 s).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// use std::time::Duration;
    /// let client = pkg_router::client::Client::connect("ws://127.0.0.1:8000/web")
    ///     .call_timeout(Duration::from_secs(5))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long connecting and authenticating may take (default 10 s).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// use std::time::Duration;
    /// let client = pkg_router::client::Client::connect("ws://127.0.0.1:8000/web")
    ///     .connect_timeout(Duration::from_secs(2))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many pushes each subscription buffers before it loses the oldest (default 1 024;
    /// see [`Pushes`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// let client = pkg_router::client::Client::connect("ws://127.0.0.1:8000/web")
    ///     .push_buffer(16)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn push_buffer(mut self, pushes: usize) -> Self {
        self.push_buffer = pushes.max(1);
        self
    }

    /// Reconnects when the connection drops (without this, the client stays closed).
    ///
    /// # Examples
    ///
    /// See [`token_provider`](Self::token_provider).
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = Some(reconnect);
        self
    }

    /// Runs after every reconnect, before pushes resume being useful: join rooms again, reload
    /// state. It runs in its own task and may make calls.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// use pkg_router::client::{Client, Reconnect};
    ///
    /// let client = Client::connect("ws://127.0.0.1:8000/web")
    ///     .token("eyJ...")
    ///     .reconnect(Reconnect::default())
    ///     .on_reconnect(|client| async move {
    ///         // JOIN_ROOM again: rooms are per connection on the server.
    ///         let _ = client.call::<_, serde_json::Value>(9u32, &serde_json::json!({"room": "lobby"})).await;
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_reconnect<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_reconnect = Some(Arc::new(move |client| Box::pin(hook(client))));
        self
    }

    /// The wire format: [`Format::Json`] (the default) or, with the `protobuf` feature,
    /// [`Format::Protobuf`]. The client adds `format=<value>` to the URL; a URL that already
    /// names the other of the two is refused ([`ConnectError::InvalidUrl`]), one naming a
    /// format the client does not know is sent as it is (for the server to refuse).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[cfg(feature = "protobuf")]
    /// # async fn run() -> Result<(), pkg_router::client::ConnectError> {
    /// use pkg_router::client::{Client, Format};
    ///
    /// let client = Client::connect("ws://127.0.0.1:8000/web")
    ///     .format(Format::Protobuf)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    async fn connect(self) -> Result<Client, ConnectError> {
        let url = with_format(&self.url, self.format)?;
        let shared = Arc::new(Shared {
            url,
            format: self.format,
            token: self.token,
            call_timeout: self.call_timeout,
            connect_timeout: self.connect_timeout,
            reconnect: self.reconnect,
            on_reconnect: self.on_reconnect,
            push_buffer: self.push_buffer,
            subscribers: Subscribers::default(),
            req_ids: RequestIds::new(),
            state: Mutex::new(State::default()),
            alive: Mutex::new(Weak::new()),
        });
        let socket = shared.open().await?;
        let (outgoing, requests) = mpsc::unbounded_channel();
        shared.lock().outgoing = Some(outgoing);
        let alive = Arc::new(Alive(Arc::clone(&shared)));
        *shared.alive.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(&alive);
        tokio::spawn(Arc::clone(&shared).run(socket, requests));
        Ok(Client {
            shared,
            _alive: alive,
        })
    }
}

impl IntoFuture for ClientBuilder {
    type Output = Result<Client, ConnectError>;
    type IntoFuture = BoxFuture<Result<Client, ConnectError>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.connect())
    }
}

/// A connected client. Cheap to clone (all clones share the connection); the connection
/// closes when [`close`](Self::close) is called or the last clone is dropped.
///
/// # Examples
///
/// A real server on a free port, a call and a push:
///
/// ```
/// use pkg_router::client::{CallError, Client};
/// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
/// use pkg_router::{HandlerError, Hub, RequestModel, Router};
///
/// async fn shout(req: RequestModel, hub: Hub) -> Result<String, HandlerError> {
///     let text = req.data["text"].as_str().unwrap_or_default().to_uppercase();
///     hub.broadcast(100u32, &text)?;
///     Ok(text)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let hub = Hub::new();
/// let router = Router::builder().hub(hub.clone()).handler(1, shout).build()?;
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let app = axum::Router::new().route("/web", pkg_router::axum::ws(Endpoint::new(router, config)));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let url = format!("ws://{}/web", listener.local_addr()?);
/// tokio::spawn(pkg_router::axum::serve(listener, app, hub).with_shutdown_signal(std::future::pending()).into_future());
///
/// let client = Client::connect(url).await?;
/// let mut pushes = client.pushes_of(100u32);
/// let answer: String = client.call(1u32, &serde_json::json!({"text": "hi"})).await?;
/// assert_eq!(answer, "HI");
/// assert_eq!(pushes.next_as::<String>().await.unwrap()?, "HI");
///
/// let unknown = client.call::<_, String>(7u32, &serde_json::json!({})).await.unwrap_err();
/// assert_eq!(unknown.code(), Some("unknown_pkg_id"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// Shared by the user's clones only: the last one dropped closes the connection.
    _alive: Arc<Alive>,
}

/// Closes the connection when the last [`Client`] clone is dropped.
struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.close_now();
    }
}

struct Shared {
    url: String,
    format: Format,
    token: Option<TokenProvider>,
    call_timeout: Duration,
    connect_timeout: Duration,
    reconnect: Option<Reconnect>,
    on_reconnect: Option<ReconnectHook>,
    push_buffer: usize,
    subscribers: Subscribers,
    state: Mutex<State>,
    /// The users' handle, for the reconnect hook's `Client` (never keeps the client alive).
    alive: Mutex<Weak<Alive>>,
    req_ids: RequestIds,
}

/// What changes as the connection comes and goes.
#[derive(Default)]
struct State {
    /// The live connection's queue of frames to send; `None` while disconnected.
    outgoing: Option<mpsc::UnboundedSender<Message>>,
    /// Calls waiting for their answer, by `req_id`.
    pending: HashMap<Uuid, oneshot::Sender<Result<ResponseModel, CallError>>>,
    /// [`Client::close`] was called: stop for good.
    closed: bool,
}

/// Removes a call from the pending map when its future is dropped (a cancelled call).
struct PendingGuard<'a> {
    shared: &'a Shared,
    req_id: Uuid,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.req_id);
    }
}

impl Client {
    /// Starts configuring a client for `url` (`ws://host:port/path`); await the builder to
    /// connect.
    ///
    /// # Errors
    ///
    /// See [`ConnectError`].
    ///
    /// # Examples
    ///
    /// See [`Client`].
    pub fn connect(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            format: Format::default(),
            token: None,
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            push_buffer: 1_024,
            reconnect: None,
            on_reconnect: None,
        }
    }

    /// Calls `pkg_id` with `data` and decodes the answer's `data` as an `R`.
    ///
    /// # Errors
    ///
    /// [`CallError::Rejected`] for an error answer; the others when no answer came (see
    /// [`CallError::may_have_run`]).
    ///
    /// # Examples
    ///
    /// See [`Client`].
    pub async fn call<D, R>(&self, pkg_id: impl IntoPkgId, data: &D) -> Result<R, CallError>
    where
        D: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let response = rejected_unless_ok(self.request(pkg_id, data).await?)?;
        R::deserialize(response.data).map_err(|err| CallError::Decode(err.to_string()))
    }

    /// Calls a paginated `pkg_id`: the items and the page's metadata.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call); [`CallError::Decode`] when the answer has no `meta`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(client: pkg_router::client::Client) -> Result<(), pkg_router::client::CallError> {
    /// let page = client.call_page::<_, serde_json::Value>(4u32, &serde_json::json!({"per_page": 2})).await?;
    /// println!("{} of {:?}", page.items.len(), page.meta.total);
    /// # Ok(()) }
    /// ```
    pub async fn call_page<D, T>(
        &self,
        pkg_id: impl IntoPkgId,
        data: &D,
    ) -> Result<Paginated<T>, CallError>
    where
        D: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let response = rejected_unless_ok(self.request(pkg_id, data).await?)?;
        let meta = response
            .meta
            .ok_or_else(|| CallError::Decode("the answer has no pagination meta".into()))?;
        let items = Vec::<T>::deserialize(response.data)
            .map_err(|err| CallError::Decode(err.to_string()))?;
        Ok(Paginated { items, meta })
    }

    /// Calls `pkg_id` with `data`; the whole answer envelope, whatever its `status_code` (an
    /// error answer is `Ok` here: [`call`](Self::call) turns it into [`CallError::Rejected`]).
    ///
    /// # Errors
    ///
    /// When no answer came (see [`CallError::may_have_run`]), or `data` does not serialize to a
    /// JSON object ([`CallError::Encode`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(client: pkg_router::client::Client) -> Result<(), pkg_router::client::CallError> {
    /// let response = client.request(8u32, &serde_json::json!({})).await?;
    /// println!("{} answered {}", response.req_id, response.data);
    /// # Ok(()) }
    /// ```
    pub async fn request<D>(
        &self,
        pkg_id: impl IntoPkgId,
        data: &D,
    ) -> Result<ResponseModel, CallError>
    where
        D: Serialize + ?Sized,
    {
        let req_id = self.shared.req_ids.next();
        let frame = request_message(self.shared.format, pkg_id.into_pkg_id(), req_id, data)?;
        let (answer_tx, answer) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            let Some(outgoing) = &state.outgoing else {
                return Err(CallError::NotConnected);
            };
            if outgoing.send(frame).is_err() {
                return Err(CallError::NotConnected);
            }
            state.pending.insert(req_id, answer_tx);
        }
        let _forget_on_drop = PendingGuard {
            shared: &self.shared,
            req_id,
        };
        let timeout = self.shared.call_timeout;
        let response = match tokio::time::timeout(timeout, answer).await {
            Err(_) => return Err(CallError::Timeout(timeout)),
            // The connection task dropped the sender without an answer: it ended.
            Ok(Err(_)) => return Err(CallError::ConnectionLost),
            Ok(Ok(result)) => result?,
        };
        Ok(response)
    }

    /// Every push that arrives from now on.
    ///
    /// # Examples
    ///
    /// See [`Client`].
    pub fn pushes(&self) -> Pushes {
        self.shared
            .subscribers
            .subscribe(None, self.shared.push_buffer)
    }

    /// The pushes of one `pkg_id` that arrive from now on.
    ///
    /// # Examples
    ///
    /// See [`Client`].
    pub fn pushes_of(&self, pkg_id: impl IntoPkgId) -> Pushes {
        self.shared
            .subscribers
            .subscribe(Some(pkg_id.into_pkg_id()), self.shared.push_buffer)
    }

    /// Whether the client is connected now (and not reconnecting).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(client: pkg_router::client::Client) {
    /// assert!(client.is_connected());
    /// client.close().await;
    /// assert!(!client.is_connected());
    /// # }
    /// ```
    pub fn is_connected(&self) -> bool {
        self.shared.lock().outgoing.is_some()
    }

    /// Closes the connection (normal closure, 1000) and stops reconnecting. Calls in flight fail
    /// with [`CallError::NotConnected`] if not yet sent, else as the connection ends.
    ///
    /// # Examples
    ///
    /// See [`is_connected`](Self::is_connected).
    pub async fn close(&self) {
        self.shared.close_now();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.shared.url)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Stops reconnecting and asks the connection task to close (normal closure).
    fn close_now(&self) {
        let outgoing = {
            let mut state = self.lock();
            state.closed = true;
            state.outgoing.take()
        };
        if let Some(outgoing) = outgoing {
            let _ = outgoing.send(Message::Close(Some(CloseFrame {
                code: close_code::NORMAL.into(),
                reason: "".into(),
            })));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change to the state is a single assignment or map operation: a panic cannot
        // leave it half-done, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connects, and authenticates when there is a token, within the connect timeout.
    async fn open(&self) -> Result<Socket, ConnectError> {
        let attempt = async {
            // TCP_NODELAY: a call's frame goes out at once, not behind an unacknowledged one.
            let (mut socket, _) = tokio_tungstenite::connect_async_with_config(
                self.url.as_str(),
                Some(socket_config()),
                true,
            )
            .await
            .map_err(connect_error)?;
            if let Some(provider) = &self.token {
                let token = provider().await.map_err(ConnectError::Token)?;
                let auth = serde_json::json!({"type": "auth", "token": format!("Bearer {token}")});
                socket
                    .send(Message::text(auth.to_string()))
                    .await
                    .map_err(|err| ConnectError::Io(err.to_string()))?;
                await_auth_ok(&mut socket).await?;
            }
            Ok(socket)
        };
        tokio::time::timeout(self.connect_timeout, attempt)
            .await
            .map_err(|_| ConnectError::Timeout(self.connect_timeout))?
    }

    /// Owns the socket: sends what calls queue, routes answers to their calls and pushes to
    /// the subscriptions, and reconnects if configured.
    async fn run(
        self: Arc<Self>,
        mut socket: Socket,
        mut requests: mpsc::UnboundedReceiver<Message>,
    ) {
        loop {
            let ended = self.serve(&mut socket, &mut requests).await;
            let failure = match &ended {
                Ended::Closed { code, reason } => CallError::Closed {
                    code: *code,
                    reason: reason.clone(),
                },
                Ended::Lost => CallError::ConnectionLost,
            };
            let pending = {
                let mut state = self.lock();
                state.outgoing = None;
                std::mem::take(&mut state.pending)
            };
            for (_, call) in pending {
                let _ = call.send(Err(clone_failure(&failure)));
            }
            let Some(reconnect) = self.reconnect else {
                self.subscribers.close();
                return;
            };
            match self.reopen(reconnect).await {
                Some(next) => {
                    socket = next;
                    let (outgoing, next_requests) = mpsc::unbounded_channel();
                    requests = next_requests;
                    self.lock().outgoing = Some(outgoing);
                    tracing::info!(url = %self.url, "reconnected");
                    let alive = self
                        .alive
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .upgrade();
                    if let (Some(hook), Some(alive)) = (&self.on_reconnect, alive) {
                        tokio::spawn(hook(Client {
                            shared: Arc::clone(&self),
                            _alive: alive,
                        }));
                    }
                }
                None => {
                    self.subscribers.close();
                    return;
                }
            }
        }
    }

    /// One connection's life.
    async fn serve(
        &self,
        socket: &mut Socket,
        requests: &mut mpsc::UnboundedReceiver<Message>,
    ) -> Ended {
        loop {
            tokio::select! {
                request = requests.recv() => {
                    let Some(message) = request else {
                        // Every Client is gone: close politely.
                        let _ = socket.close(None).await;
                        return Ended::Closed { code: close_code::NORMAL, reason: "client dropped".into() };
                    };
                    let closing = matches!(message, Message::Close(_));
                    if socket.send(message).await.is_err() {
                        return Ended::Lost;
                    }
                    if closing {
                        drain_until_closed(socket).await;
                        return Ended::Closed { code: close_code::NORMAL, reason: "closed by the client".into() };
                    }
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.route(text.as_str()),
                    #[cfg(feature = "protobuf")]
                    Some(Ok(Message::Binary(bytes))) => self.route_protobuf(&bytes),
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((close_code::NORMAL, String::new()));
                        tracing::debug!(code, reason = ?reason, "closed by the server");
                        // tungstenite answered the close; read on until the server ends TCP.
                        drain_until_closed(socket).await;
                        return Ended::Closed { code, reason };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        tracing::debug!(error = %err, "connection lost");
                        return Ended::Lost;
                    }
                    None => return Ended::Lost,
                },
            }
        }
    }

    /// Hands a protobuf `Response` to its call, or to the subscriptions when it is a push.
    #[cfg(feature = "protobuf")]
    fn route_protobuf(&self, bytes: &[u8]) {
        use prost::Message as _;
        let decoded = crate::protobuf::Response::decode(bytes)
            .map_err(crate::protobuf::ProtobufError::from)
            .and_then(|response| response.to_model());
        match decoded {
            Ok(model) => self.deliver(Incoming {
                pkg_id: model.pkg_id,
                req_id: model.req_id,
                status_code: Some(model.status_code),
                meta: model.meta,
                data: model.data,
            }),
            Err(err) => tracing::debug!(error = %err, "unreadable frame from the server"),
        }
    }

    /// Hands an answer to its call, or a push to the subscriptions.
    fn route(&self, text: &str) {
        let Ok(frame) = serde_json::from_str::<Incoming>(text) else {
            tracing::debug!(frame = ?text.chars().take(200).collect::<String>(), "unreadable frame from the server");
            return;
        };
        self.deliver(frame);
    }

    fn deliver(&self, frame: Incoming) {
        if frame.req_id.is_nil() {
            // The nil req_id marks a push (protocol §2); with no subscriber it is dropped.
            self.subscribers.deliver(PushMessage {
                pkg_id: frame.pkg_id,
                data: frame.data,
            });
            return;
        }
        let Some(status_code) = frame.status_code else {
            tracing::debug!(pkg_id = frame.pkg_id, req_id = %frame.req_id, "an answer without status_code");
            return;
        };
        let response = ResponseModel {
            pkg_id: frame.pkg_id,
            req_id: frame.req_id,
            status_code,
            meta: frame.meta,
            data: frame.data,
        };
        // Absent: the call timed out or was dropped; its late answer is discarded.
        if let Some(call) = self.lock().pending.remove(&response.req_id) {
            let _ = call.send(Ok(response));
        }
    }

    /// Reconnects with backoff until it works or the client is closed.
    async fn reopen(&self, reconnect: Reconnect) -> Option<Socket> {
        let mut delay = reconnect.initial;
        loop {
            tokio::time::sleep(delay).await;
            if self.lock().closed {
                return None;
            }
            match self.open().await {
                Ok(socket) => return Some(socket),
                Err(err) => {
                    tracing::debug!(error = %err, retry_in_ms = delay.as_millis() as u64, "reconnect failed");
                    delay = (delay * 2).min(reconnect.max);
                }
            }
        }
    }
}

/// How a connection ended.
enum Ended {
    /// With a close frame (the server's, or ours).
    Closed { code: u16, reason: String },
    /// Without one.
    Lost,
}

/// `response` if it is a success, else [`CallError::Rejected`] with its error body.
fn rejected_unless_ok(response: ResponseModel) -> Result<ResponseModel, CallError> {
    if response.status_code == RspCode::Ok {
        return Ok(response);
    }
    let body = response.error_body();
    Err(CallError::Rejected {
        status: response.status_code,
        code: body
            .as_ref()
            .map(|b| b.code.to_string())
            .unwrap_or_default(),
        message: body.as_ref().map(|b| b.msg.clone()).unwrap_or_default(),
        details: body.and_then(|b| b.details),
    })
}

/// The `req_id`s of one client: a random version-4 UUID drawn once, its last 48 bits (the
/// node field) counting up from call to call. Unique per client for 2^48 calls and valid v4
/// UUIDs, without a `getrandom` system call per call (drawing a fresh `Uuid::new_v4` for each
/// was the client's only system call more than the raw socket's: `pkg-router-bench
/// client-cost`).
struct RequestIds {
    base: u128,
    next: AtomicU64,
}

impl RequestIds {
    const NODE: u128 = (1 << 48) - 1;

    fn new() -> Self {
        Self {
            base: Uuid::new_v4().as_u128(),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> Uuid {
        let n = u128::from(self.next.fetch_add(1, Ordering::Relaxed));
        Uuid::from_u128((self.base & !Self::NODE) | (self.base.wrapping_add(n) & Self::NODE))
    }
}

/// The request envelope, written in one pass in the protocol's order (`pkg_id`, `req_id`,
/// `data`, so the server knows the handler before it reaches `data`); `data` must serialize to
/// a JSON object (`null` is sent as `{}`).
fn request_frame<D>(pkg_id: u32, req_id: Uuid, data: &D) -> Result<String, CallError>
where
    D: Serialize + ?Sized,
{
    let data = object_text(data)?;
    let mut frame = String::with_capacity(data.len() + 80);
    let _ = write!(
        frame,
        r#"{{"pkg_id":{pkg_id},"req_id":"{req_id}","data":{data}}}"#
    );
    Ok(frame)
}

/// The request in the client's format: a JSON text frame, or a protobuf `Request` whose
/// `data_json` is the same text.
fn request_message<D>(
    format: Format,
    pkg_id: u32,
    req_id: Uuid,
    data: &D,
) -> Result<Message, CallError>
where
    D: Serialize + ?Sized,
{
    match format {
        Format::Json => request_frame(pkg_id, req_id, data).map(Message::text),
        #[cfg(feature = "protobuf")]
        Format::Protobuf => {
            use prost::Message as _;
            let request = crate::protobuf::Request::new(pkg_id, req_id, object_text(data)?);
            Ok(Message::binary(request.encode_to_vec()))
        }
    }
}

/// `data` as JSON text, which must be an object (`null` becomes `{}`).
fn object_text<D>(data: &D) -> Result<String, CallError>
where
    D: Serialize + ?Sized,
{
    let data = serde_json::to_string(data).map_err(|err| CallError::Encode(err.to_string()))?;
    // Trimmed: a `RawValue` is written as it is, whitespace included.
    match data.trim().as_bytes().first() {
        Some(b'{') => Ok(data),
        _ if data.trim() == "null" => Ok("{}".to_owned()),
        _ => Err(CallError::Encode(format!(
            "data must serialize to a JSON object, not {data}"
        ))),
    }
}

/// A frame from the server: an answer, or a push (nil `req_id`, no `status_code`).
#[derive(Deserialize)]
struct Incoming {
    pkg_id: u32,
    req_id: Uuid,
    status_code: Option<RspCode>,
    #[serde(default)]
    meta: Option<PageMeta>,
    #[serde(default)]
    data: Value,
}

fn clone_failure(failure: &CallError) -> CallError {
    match failure {
        CallError::Closed { code, reason } => CallError::Closed {
            code: *code,
            reason: reason.clone(),
        },
        _ => CallError::ConnectionLost,
    }
}

/// The socket's buffers. tungstenite zero-fills the free part of its read buffer, up to
/// `read_buffer_size`, before every read (the reads that find nothing too): its 128 KiB default
/// made that `memset` the largest single cost of a call (`pkg-router-bench client-cost`). The
/// buffer grows for a larger frame all the same.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// See [`socket_config`].
const READ_BUFFER: usize = 16 * 1024;

/// After a close frame: reads until the other side ends the connection (bounded).
async fn drain_until_closed(socket: &mut Socket) {
    let drain = async { while let Some(Ok(_)) = socket.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Waits for `auth_ok`, turning a close frame into [`ConnectError::Auth`].
async fn await_auth_ok(socket: &mut Socket) -> Result<(), ConnectError> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let ok = serde_json::from_str::<Value>(text.as_str())
                    .is_ok_and(|frame| frame["type"] == "auth_ok");
                return if ok {
                    Ok(())
                } else {
                    Err(ConnectError::Io(format!(
                        "expected auth_ok, got {}",
                        text.as_str().chars().take(200).collect::<String>()
                    )))
                };
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((close_code::NORMAL, String::new()));
                return Err(ConnectError::Auth { code, reason });
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(ConnectError::Io(err.to_string())),
            None => {
                return Err(ConnectError::Io(
                    "connection closed during authentication".into(),
                ));
            }
        }
    }
}

fn connect_error(err: tokio_tungstenite::tungstenite::Error) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error;
    match err {
        Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            ConnectError::Http { status, body }
        }
        Error::Url(err) => ConnectError::InvalidUrl(err.to_string()),
        other => ConnectError::Io(other.to_string()),
    }
}

/// The URL with `format=<format>`, unless it names that format already.
fn with_format(url: &str, format: Format) -> Result<String, ConnectError> {
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(ConnectError::InvalidUrl(format!(
            "`{url}`: expected ws:// or wss://"
        )));
    }
    let wanted = format.query_value();
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let named = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "format");
    if let Some((_, value)) = named {
        // Another format this client speaks is a contradiction; one it does not know is the
        // server's to refuse (HTTP 400) or serve.
        let known = ["json", "protobuf"];
        if !value.eq_ignore_ascii_case(wanted)
            && known.iter().any(|known| value.eq_ignore_ascii_case(known))
        {
            return Err(ConnectError::InvalidUrl(format!(
                "`{url}` asks for format `{value}` but the client speaks `{wanted}`"
            )));
        }
        return Ok(url.to_owned());
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}format={wanted}"))
}

#[cfg(test)]
mod tests {
    use super::{Format, RequestIds, request_frame, with_format};
    use serde_json::{Value, json};
    use uuid::Uuid;

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let ids = RequestIds::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1_000 {
            let id = ids.next();
            assert_eq!(id.get_version_num(), 4);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert!(!id.is_nil());
            assert!(seen.insert(id));
        }
        // The counter wraps within the node field, never into the version or variant bits.
        let ids = RequestIds {
            base: RequestIds::new().base | RequestIds::NODE,
            next: std::sync::atomic::AtomicU64::new(0),
        };
        let (first, second) = (ids.next(), ids.next());
        assert_eq!(second.as_u128() & RequestIds::NODE, 0);
        assert_eq!(first.as_u128() >> 48, second.as_u128() >> 48);
        assert_eq!(second.get_version_num(), 4);
    }

    #[test]
    fn request_frames_are_envelopes_with_object_data() {
        let id = Uuid::new_v4();
        let frame = request_frame(3, id, &json!({"b": [1, "x\"y"], "a": null})).unwrap();
        assert!(frame.starts_with(r#"{"pkg_id":3,"req_id":""#), "{frame}");
        let parsed: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(
            parsed,
            json!({"pkg_id": 3, "req_id": id.to_string(), "data": {"b": [1, "x\"y"], "a": null}})
        );
        let empty: Value = serde_json::from_str(&request_frame(1, id, &()).unwrap()).unwrap();
        assert_eq!(empty["data"], json!({}));
        let raw = serde_json::value::RawValue::from_string(" {\"a\": 1} ".into()).unwrap();
        let spaced: Value = serde_json::from_str(&request_frame(1, id, &raw).unwrap()).unwrap();
        assert_eq!(spaced["data"], json!({"a": 1}));
        for not_an_object in [json!([1, 2]), json!("{}"), json!(7)] {
            let err = request_frame(1, id, &not_an_object)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&not_an_object.to_string()), "{err}");
        }
    }

    #[test]
    fn the_format_is_asked_for_unless_given() {
        let json = |url| with_format(url, Format::Json);
        assert_eq!(json("ws://h/web").unwrap(), "ws://h/web?format=json");
        assert_eq!(
            json("ws://h/web?x=1").unwrap(),
            "ws://h/web?x=1&format=json"
        );
        assert_eq!(
            json("ws://h/web?format=JSON").unwrap(),
            "ws://h/web?format=JSON"
        );
        // Unknown to the client: the server answers it (400 for an unknown format).
        assert_eq!(
            json("ws://h/web?format=xml").unwrap(),
            "ws://h/web?format=xml"
        );
        assert!(json("ws://h/web?format=protobuf").is_err());
        assert!(json("http://h/web").is_err());
    }

    #[cfg(feature = "protobuf")]
    #[test]
    fn protobuf_is_asked_for_and_a_conflicting_url_refused() {
        let proto = |url| with_format(url, Format::Protobuf);
        assert_eq!(proto("ws://h/web").unwrap(), "ws://h/web?format=protobuf");
        assert_eq!(
            proto("ws://h/web?format=ProtoBuf").unwrap(),
            "ws://h/web?format=ProtoBuf"
        );
        assert!(proto("ws://h/web?format=json").is_err());
    }
}
