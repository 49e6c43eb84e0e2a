//! [`Endpoint`]: what every connection of one WebSocket endpoint shares, and the admission
//! checks made before the HTTP upgrade.

use super::auth::Authenticator;
use super::config::WsConfig;
use super::rate_limit::Limiter;
use crate::hub::Hub;
use crate::router::Router;
use std::fmt;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The message format of a connection, chosen with `?format=` at the upgrade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JSON text frames (the default).
    #[default]
    Json,
}

impl Format {
    /// Parses the `format` query value (case-insensitive); `None` means the default.
    ///
    /// # Errors
    ///
    /// [`Rejection::UnknownFormat`] for anything but `json` (the protobuf format is specified
    /// but not served yet, and an unknown format is refused rather than guessed).
    pub fn parse(value: Option<&str>) -> Result<Self, Rejection> {
        match value {
            None => Ok(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(Self::Json),
            Some(v) => Err(Rejection::UnknownFormat(v.chars().take(32).collect())),
        }
    }
}

/// Why an upgrade request is refused, with the HTTP status to answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `?format=` names a format this server does not speak (400).
    #[error("unsupported format `{0}`: use format=json")]
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
    /// The HTTP status code to answer the upgrade request with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownFormat(_) => 400,
            Self::OriginNotAllowed => 403,
            Self::AtCapacity | Self::ShuttingDown => 503,
        }
    }
}

/// A slot under the connection limit, held for the connection's lifetime.
#[derive(Debug)]
pub struct ConnectionPermit {
    _permit: OwnedSemaphorePermit,
}

/// What [`Endpoint::admit`] grants: the connection's format and its slot.
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
/// let endpoint = Endpoint::new(router, Hub::new(), WsConfig::default());
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
    slots: Arc<Semaphore>,
}

impl Endpoint {
    /// An endpoint without an authenticator (set one with
    /// [`with_authenticator`](Self::with_authenticator) unless `config.auth` is `Disabled`).
    pub fn new(router: Router, hub: Hub, config: WsConfig) -> Self {
        let limiter = config.rate_limit.map(Limiter::new);
        let slots = Arc::new(Semaphore::new(config.max_connections));
        Self {
            router,
            hub,
            config,
            authenticator: None,
            limiter,
            slots,
        }
    }

    /// Sets the authenticator used by the auth handshake.
    #[must_use]
    pub fn with_authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// The hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The settings.
    pub fn config(&self) -> &WsConfig {
        &self.config
    }

    /// The checks made before the upgrade: format, origin, shutdown, connection limit.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] carrying the HTTP status to answer.
    pub fn admit(
        &self,
        format: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Admission, Rejection> {
        let format = Format::parse(format)?;
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
