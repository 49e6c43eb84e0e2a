//! [`Endpoint`]: what every connection of one WebSocket endpoint shares, and the admission
//! checks made before the HTTP upgrade.

use super::auth::Authenticator;
use super::codec::Codec;
use super::config::WsConfig;
use super::frame::{Frame, SocketError};
use super::lifecycle::{ConnectionEvent, Lifecycle};
use super::rate_limit::Limiter;
use super::shared_limits::SharedLimits;
use crate::hub::CloseReason;
use crate::hub::Hub;
use crate::router::Router;
use futures_util::{Sink, Stream};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The message format of a connection, chosen with `?format=` at the upgrade.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{Endpoint, Format, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// assert_eq!(Format::default(), Format::Json);
///
/// let endpoint = Endpoint::new(Router::builder().allow_empty().build()?, WsConfig::default());
/// assert_eq!(endpoint.admit(Some("JSON"), None)?.format, Format::Json);
/// # #[cfg(feature = "protobuf")]
/// assert_eq!(endpoint.admit(Some("ProtoBuf"), None)?.format, Format::Protobuf);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JSON text frames (the default).
    #[default]
    Json,
    /// Protobuf binary frames ([protocol §7](crate::protocol#7-protobuf-format)); served with
    /// the `protobuf` feature (without it `?format=protobuf` is refused with 400).
    Protobuf,
    /// A format registered with [`Endpoint::with_codec`], by its name.
    Custom(&'static str),
}

impl Format {
    /// Parses the `format` query value (case-insensitive); `None` means the default.
    ///
    /// # Errors
    ///
    /// [`Rejection::UnknownFormat`] for anything but `json` and (with the `protobuf` feature)
    /// `protobuf`: an unknown format is refused rather than guessed. Formats registered with
    /// [`Endpoint::with_codec`] are known to [`Endpoint::admit`] only.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{Format, Rejection};
    ///
    /// assert_eq!(Format::parse(None), Ok(Format::Json));
    /// assert_eq!(Format::parse(Some("Json")), Ok(Format::Json));
    /// # #[cfg(feature = "protobuf")]
    /// assert_eq!(Format::parse(Some("PROTOBUF")), Ok(Format::Protobuf));
    /// let err = Format::parse(Some("xml")).unwrap_err();
    /// assert_eq!(err, Rejection::UnknownFormat("xml".into()));
    /// assert_eq!(err.http_status(), 400);
    /// ```
    pub fn parse(value: Option<&str>) -> Result<Self, Rejection> {
        match value {
            None => Ok(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(Self::Json),
            #[cfg(feature = "protobuf")]
            Some(v) if v.eq_ignore_ascii_case("protobuf") => Ok(Self::Protobuf),
            Some(v) => Err(Rejection::UnknownFormat(v.chars().take(32).collect())),
        }
    }
}

/// Why an upgrade request is refused, with the HTTP status to answer.
///
/// Returned by [`Endpoint::admit`]; answer the upgrade request with
/// [`http_status`](Self::http_status) and the `Display` text as the body.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{Endpoint, Rejection, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// let mut config = WsConfig::default();
/// config.allowed_origins = vec!["https://books.example".into()];
/// let endpoint = Endpoint::new(Router::builder().allow_empty().build()?, config);
///
/// let err = endpoint.admit(None, Some("https://evil.example")).unwrap_err();
/// assert_eq!(err, Rejection::OriginNotAllowed);
/// assert_eq!((err.http_status(), err.to_string()), (403, "origin not allowed".to_owned()));
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `?format=` names a format this server does not speak (400).
    #[cfg_attr(
        not(feature = "protobuf"),
        error("unsupported format `{0}`: use format=json")
    )]
    #[cfg_attr(
        feature = "protobuf",
        error("unsupported format `{0}`: use format=json or format=protobuf")
    )]
    UnknownFormat(String),
    /// The `Origin` header is not in the allow-list (403).
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// The server holds its maximum number of connections (503).
    #[error("too many connections")]
    AtCapacity,
    /// The server is shutting down (503).
    #[error("server is shutting down")]
    ShuttingDown,
}

impl Rejection {
    /// The HTTP status code to answer the upgrade request with: 400 for a bad format, 403 for a
    /// refused origin, 503 when the server is full or shutting down.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::Rejection;
    ///
    /// assert_eq!(Rejection::UnknownFormat("xml".into()).http_status(), 400);
    /// assert_eq!(Rejection::OriginNotAllowed.http_status(), 403);
    /// assert_eq!(Rejection::AtCapacity.http_status(), 503);
    /// assert_eq!(Rejection::ShuttingDown.http_status(), 503);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownFormat(_) => 400,
            Self::OriginNotAllowed => 403,
            Self::AtCapacity | Self::ShuttingDown => 503,
        }
    }
}

/// A slot under the connection limit, held for the connection's lifetime.
///
/// Part of the [`Admission`]; [`Endpoint::serve`] keeps it until the connection ends. Dropping
/// it frees the slot.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{Endpoint, Rejection, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// let mut config = WsConfig::default();
/// config.max_connections = 1;
/// let endpoint = Endpoint::new(Router::builder().allow_empty().build()?, config);
///
/// let first = endpoint.admit(None, None)?;
/// assert_eq!(endpoint.admit(None, None).unwrap_err(), Rejection::AtCapacity);
/// drop(first.permit); // that connection ended
/// assert!(endpoint.admit(None, None).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ConnectionPermit {
    _permit: OwnedSemaphorePermit,
}

/// What [`Endpoint::admit`] grants: the connection's format and its slot.
///
/// Hand it to [`Endpoint::serve`] with the upgraded socket.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{Endpoint, Format, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// let endpoint = Endpoint::new(Router::builder().allow_empty().build()?, WsConfig::default());
/// let admission = endpoint.admit(Some("json"), Some("https://books.example"))?;
/// assert_eq!(admission.format, Format::Json);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Admission {
    /// The negotiated format.
    pub format: Format,
    /// The connection's slot under `max_connections`.
    pub permit: ConnectionPermit,
}

/// A WebSocket endpoint: router, hub, settings, authenticator and the per-principal rate
/// limiter, shared by all its connections.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{Endpoint, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// let router = Router::builder().allow_empty().build()?;
/// let endpoint = Endpoint::new(router, WsConfig::default());
/// assert!(endpoint.admit(None, Some("https://any.example")).is_ok());
/// assert_eq!(endpoint.admit(Some("xml"), None).unwrap_err().http_status(), 400);
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
pub struct Endpoint {
    pub(crate) router: Router,
    pub(crate) hub: Hub,
    pub(crate) config: WsConfig,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) limiter: Option<Limiter>,
    pub(super) lifecycle: Lifecycle,
    pub(super) shared_limits: Option<Arc<dyn SharedLimits>>,
    /// Formats added with `with_codec`, by name.
    codecs: Vec<(&'static str, Arc<dyn Codec>)>,
    slots: Arc<Semaphore>,
}

impl Endpoint {
    /// An endpoint without an authenticator (set one with
    /// [`with_authenticator`](Self::with_authenticator) unless `config.auth` is `Disabled`).
    /// Its connections register in the router's hub
    /// ([`RouterBuilder::hub`](crate::router::RouterBuilder::hub)), or in a new one when the router
    /// has none.
    ///
    /// Create one per WebSocket route and share it (an `Arc`) between its connections: the
    /// connection limit and the rate limits live here.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
    /// use pkg_router::{Hub, Router};
    ///
    /// let mut config = WsConfig::default();
    /// config.auth = AuthMode::Disabled;
    /// let hub = Hub::new();
    /// let router = Router::builder().hub(hub.clone()).allow_empty().build()?;
    /// let endpoint = Endpoint::new(router, config);
    /// assert_eq!(endpoint.config().auth, AuthMode::Disabled);
    /// assert_eq!(endpoint.hub().connection_count(), hub.connection_count());
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn new(router: Router, config: WsConfig) -> Self {
        let limiter = config.rate_limit.map(Limiter::new);
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let hub = router.hub().cloned().unwrap_or_default();
        Self {
            router,
            hub,
            config,
            authenticator: None,
            limiter,
            lifecycle: Lifecycle::default(),
            shared_limits: None,
            codecs: Vec::new(),
            slots,
        }
    }

    /// Serves a format of your own at `?format=<name>` (the name compared case-insensitively),
    /// next to `json` and `protobuf`. A name already taken (a built-in one included) is
    /// replaced by this codec.
    ///
    /// # Examples
    ///
    /// See [`Codec`].
    #[must_use]
    pub fn with_codec(mut self, name: &'static str, codec: impl Codec) -> Self {
        self.codecs
            .retain(|(taken, _)| !taken.eq_ignore_ascii_case(name));
        self.codecs.push((name, Arc::new(codec)));
        self
    }

    /// The codec registered under `name`.
    pub(super) fn codec(&self, name: &str) -> Option<Arc<dyn Codec>> {
        self.codecs
            .iter()
            .find(|(taken, _)| taken.eq_ignore_ascii_case(name))
            .map(|(_, codec)| Arc::clone(codec))
    }

    /// Runs `hook` when a connection opens: after authentication and registration in the hub,
    /// before its first request runs (and before `auth_ok` is sent). It runs on the
    /// connection's task: keep it short, spawn slow work. Several hooks run in the order added.
    ///
    /// # Examples
    ///
    /// See [`ConnectionEvent`].
    #[must_use]
    pub fn on_connect(
        mut self,
        hook: impl Fn(&ConnectionEvent<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.lifecycle.on_connect.push(Arc::new(hook));
        self
    }

    /// Runs `hook` when a connection has closed and left the hub (and its rooms), with the
    /// close code and reason the server sent, or the peer's when it closed first (1006 when the
    /// connection was lost without a close frame). It runs once for every connection
    /// [`on_connect`](Self::on_connect) saw, on the connection's task.
    ///
    /// # Examples
    ///
    /// See [`ConnectionEvent`].
    #[must_use]
    pub fn on_disconnect(
        mut self,
        hook: impl Fn(&ConnectionEvent<'_>, &CloseReason) + Send + Sync + 'static,
    ) -> Self {
        self.lifecycle.on_disconnect.push(Arc::new(hook));
        self
    }

    /// Runs one connection until it closes. `socket` is the upgraded WebSocket seen as a stream
    /// and sink of [`Frame`]s; `admission` is what [`Endpoint::admit`] returned for it.
    ///
    /// This is all a framework adapter has to call: the handshake, limits, keepalive, pushes
    /// and the close frame are handled here. `peer` is logged and given to handlers as
    /// [`ConnectionInfo::peer`](crate::ConnectionInfo::peer). Spawn one task per connection.
    ///
    /// # Examples
    ///
    /// Serving an in-memory socket; an adapter for another WebSocket library wraps its socket
    /// the same way:
    ///
    /// ```
    /// use pkg_router::testing::MemorySocket;
    /// use pkg_router::transport::Frame;
    /// use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, WsConfig};
    /// use pkg_router::{HandlerError, Hub, Principal, Router};
    /// use pkg_router::hub::CloseReason;
    /// use std::sync::Arc;
    ///
    /// /// Any token is a user of that name.
    /// struct Names;
    ///
    /// impl Authenticator for Names {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    ///     }
    /// }
    ///
    /// async fn whoami(me: Principal) -> Result<String, HandlerError> {
    ///     Ok(me.name)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().handler(1, whoami).build()?;
    /// let endpoint = Arc::new(
    ///     Endpoint::new(router, WsConfig::default()).with_authenticator(Names),
    /// );
    /// let admission = endpoint.admit(None, None)?;
    /// let (socket, mut client) = MemorySocket::pair();
    /// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
    ///
    /// client.send_text(r#"{"type": "auth", "token": "Bearer ann"}"#);
    /// assert_eq!(client.recv_text().await, r#"{"type":"auth_ok"}"#);
    /// client.send_text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#);
    /// assert!(client.recv_text().await.ends_with(r#""data":"ann"}"#));
    /// assert_eq!(endpoint.hub().connection_count(), 1);
    ///
    /// client.send(Frame::Close(None)); // the peer closes; the server answers the close
    /// assert_eq!(client.recv().await, Some(Frame::Close(Some(CloseReason::new(1000, "")))));
    /// connection.await.unwrap();
    /// assert_eq!(endpoint.hub().connection_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn serve<S>(
        self: Arc<Self>,
        socket: S,
        admission: Admission,
        peer: Option<SocketAddr>,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError>,
        S: Send + Unpin + 'static,
    {
        // Boxed before the first await: the connection's state machine keeps a slot for a
        // value at each place it moves through (five for the socket, measured), and an idle
        // connection's memory is mostly that state. A pointer in each costs 8 bytes.
        self.run(Box::new(socket), admission, peer)
    }

    /// Sets the authenticator used by the auth handshake.
    ///
    /// Without one, an auth frame closes the connection with 4001
    /// "authentication unavailable" (and an error is logged).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::MemorySocket;
    /// # use pkg_router::transport::{Frame};
    /// use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, WsConfig};
    /// use pkg_router::{Hub, Principal, Router};
    /// use pkg_router::hub::{close_code, CloseReason};
    /// use std::sync::Arc;
    ///
    /// struct Names;
    ///
    /// impl Authenticator for Names {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    ///     }
    /// }
    ///
    /// async fn login(endpoint: Arc<Endpoint>) -> Frame {
    ///     let (socket, mut client) = MemorySocket::pair();
    ///     let admission = endpoint.admit(None, None).unwrap();
    ///     tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
    ///     client.send_text(r#"{"type": "auth", "token": "Bearer ann"}"#);
    ///     client.recv().await.unwrap()
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().allow_empty().build()?;
    /// let without = Arc::new(Endpoint::new(router.clone(), WsConfig::default()));
    /// let unavailable = CloseReason::new(close_code::AUTH_FAILED, "authentication unavailable");
    /// assert_eq!(login(without).await, Frame::Close(Some(unavailable)));
    ///
    /// let with = Arc::new(Endpoint::new(router, WsConfig::default()).with_authenticator(Names));
    /// assert_eq!(login(with).await, Frame::Text(bytes::Bytes::from_static(br#"{"type":"auth_ok"}"#)));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Counts the per-principal connection limit (and, if the store shares it, the rate limit)
    /// in `limits`, a store every node of a cluster shares, instead of in this process alone.
    ///
    /// The per-node limits still apply; see [`SharedLimits`] for what happens when the store
    /// fails. `pkg-router-redis` provides one on Redis.
    ///
    /// # Examples
    ///
    /// Two endpoints sharing one budget of connections (a cluster shares a Redis-backed one):
    ///
    /// ```
    /// use pkg_router::testing::{MemoryClient, MemorySocket};
    /// use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, Frame, LocalLimits, WsConfig};
    /// use pkg_router::hub::{close_code, CloseReason};
    /// use pkg_router::{Principal, Router};
    /// use std::sync::Arc;
    ///
    /// struct Names;
    ///
    /// impl Authenticator for Names {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    ///     }
    /// }
    ///
    /// async fn login(endpoint: &Arc<Endpoint>) -> (MemoryClient, Frame) {
    ///     let (socket, mut client) = MemorySocket::pair();
    ///     let admission = endpoint.admit(None, None).unwrap();
    ///     tokio::spawn(Arc::clone(endpoint).serve(socket, admission, None));
    ///     client.send_text(r#"{"type": "auth", "token": "Bearer ann"}"#);
    ///     let first = client.recv().await.unwrap();
    ///     (client, first)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let shared = LocalLimits::new();
    /// let mut config = WsConfig::default();
    /// config.max_connections_per_principal = 1;
    /// let node = |config: WsConfig| -> Result<Arc<Endpoint>, pkg_router::BuildError> {
    ///     let router = Router::builder().allow_empty().build()?;
    ///     Ok(Arc::new(Endpoint::new(router, config).with_authenticator(Names).with_shared_limits(shared.clone())))
    /// };
    /// let (a, b) = (node(config.clone())?, node(config)?);
    ///
    /// let (_tab, first) = login(&a).await;
    /// assert_eq!(first, Frame::Text(bytes::Bytes::from_static(br#"{"type":"auth_ok"}"#)));
    /// let (_phone, refused) = login(&b).await; // another node, the same principal
    /// let too_many = CloseReason::new(close_code::POLICY, "Maximum concurrent connections exceeded");
    /// assert_eq!(refused, Frame::Close(Some(too_many)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_shared_limits(mut self, limits: impl SharedLimits) -> Self {
        self.shared_limits = Some(Arc::new(limits));
        self
    }

    /// The hub its connections register with.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{Endpoint, WsConfig};
    /// use pkg_router::{Hub, Router};
    ///
    /// let endpoint = Endpoint::new(Router::builder().allow_empty().build()?, WsConfig::default());
    /// assert_eq!(endpoint.hub().connection_count(), 0);
    /// assert_eq!(endpoint.hub().broadcast(100u32, "nobody here")?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The router its connections' requests go to.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{Endpoint, WsConfig};
    /// use pkg_router::{HandlerError, Hub, Router};
    ///
    /// async fn ping() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder().handler(1, ping).build()?;
    /// let endpoint = Endpoint::new(router, WsConfig::default());
    /// assert!(endpoint.router().has_handler(1));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The settings, as given to [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{Endpoint, WsConfig};
    /// use pkg_router::{Hub, Router};
    ///
    /// let mut config = WsConfig::default();
    /// config.max_in_flight = 1;
    /// let endpoint = Endpoint::new(Router::builder().allow_empty().build()?, config);
    /// assert_eq!(endpoint.config().max_in_flight, 1);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn config(&self) -> &WsConfig {
        &self.config
    }

    /// The checks made before the upgrade: format, origin, shutdown, connection limit.
    ///
    /// Call it with the `format` query value and the `Origin` header before accepting the
    /// WebSocket upgrade, so refused clients get a plain HTTP error.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] carrying the HTTP status to answer.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{Endpoint, Rejection, WsConfig};
    /// use pkg_router::{Hub, Router};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let hub = Hub::new();
    /// let endpoint = Endpoint::new(Router::builder().hub(hub.clone()).allow_empty().build()?, WsConfig::default());
    /// assert!(endpoint.admit(None, None).is_ok());
    /// assert_eq!(endpoint.admit(Some("xml"), None).unwrap_err().http_status(), 400);
    ///
    /// hub.shutdown().await;
    /// assert_eq!(endpoint.admit(None, None).unwrap_err(), Rejection::ShuttingDown);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn admit(
        &self,
        format: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Admission, Rejection> {
        let format = match format.and_then(|name| {
            self.codecs
                .iter()
                .find(|(taken, _)| taken.eq_ignore_ascii_case(name))
        }) {
            Some((name, _)) => Format::Custom(name),
            None => Format::parse(format)?,
        };
        if !self.config.origin_allowed(origin) {
            return Err(Rejection::OriginNotAllowed);
        }
        if self.hub.is_shutting_down() {
            return Err(Rejection::ShuttingDown);
        }
        let permit = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| Rejection::AtCapacity)?;
        Ok(Admission {
            format,
            permit: ConnectionPermit { _permit: permit },
        })
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.config)
            .field("hub", &self.hub)
            .field("authenticator", &self.authenticator.is_some())
            .finish_non_exhaustive()
    }
}
