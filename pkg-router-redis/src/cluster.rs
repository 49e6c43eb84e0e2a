//! [`RedisCluster`]: one node's link to Redis, shared by its backend and its limits.

use crate::backend::{self, Outgoing, RedisBackend};
use crate::config::{ConfigError, RedisConfig};
use crate::health::{Health, Stats};
use crate::limits::{self, LeaseTable, RedisLimits};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::sync::{mpsc, watch};

/// Why a [`RedisCluster`] could not start.
///
/// # Examples
///
/// ```
/// use pkg_router_redis::{RedisCluster, RedisConfig, StartError};
///
/// // Outside a Tokio runtime there is nowhere to run the background tasks.
/// let config = RedisConfig::new("redis://127.0.0.1/")?;
/// assert!(matches!(RedisCluster::new(config), Err(StartError::NoRuntime)));
/// # Ok::<(), pkg_router_redis::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Not called from within a Tokio runtime.
    #[error("RedisCluster::new must be called from within a Tokio runtime")]
    NoRuntime,
}

/// One node's link to the cluster: the [`backend`](Self::backend) for its
/// [`Hub`](pkg_router::Hub), the [`limits`](Self::limits) for its
/// [`Endpoint`](pkg_router::transport::Endpoint), and its [`health`](Self::health).
///
/// Cheap to clone. Creating it connects nothing yet and never fails because Redis is down: the
/// background tasks connect, and reconnect for as long as the cluster lives. Use one per
/// process (per hub): a node ignores its own messages, so two hubs sharing one cluster would
/// not see each other's pushes.
///
/// # Examples
///
/// ```no_run
/// use pkg_router::transport::{Endpoint, WsConfig};
/// use pkg_router::{Hub, Router};
/// use pkg_router_redis::{RedisCluster, RedisConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = RedisCluster::new(RedisConfig::new("redis://127.0.0.1:6379/")?.prefix("books"))?;
/// let hub = Hub::with_backend(cluster.backend());
/// let router = Router::builder().hub(hub.clone()).with_registered().build()?;
/// let endpoint = Endpoint::new(router, WsConfig::default()).with_shared_limits(cluster.limits());
/// println!("node {} is {}", cluster.node_id(), cluster.health().state.as_str());
/// # let _ = endpoint;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisCluster {
    pub(crate) shared: Arc<Shared>,
}

/// What the backend, the limits and the handle share.
pub(crate) struct Shared {
    pub(crate) config: RedisConfig,
    /// This node's id: a random UUID, so a restarted process is a new node.
    pub(crate) node: Arc<str>,
    pub(crate) client: redis::Client,
    /// Commands (PUBLISH, scripts): reconnects by itself when a command finds it broken.
    pub(crate) commands: ConnectionManager,
    pub(crate) stats: Arc<Stats>,
    pub(crate) outgoing: mpsc::Sender<Outgoing>,
    /// Sequence numbers of this node's events.
    pub(crate) seq: AtomicU64,
    pub(crate) leases: Arc<LeaseTable>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// Dropped with the last handle: the background tasks end.
    pub(crate) closed: watch::Sender<()>,
}

impl RedisCluster {
    /// Starts this node's link: checks `config` and spawns the publisher and the lease keeper
    /// on the current Tokio runtime (the subscriber starts with the hub, in
    /// [`BroadcastBackend::start`](pkg_router::hub::BroadcastBackend::start)).
    ///
    /// # Errors
    ///
    /// [`StartError::Config`] for an unusable prefix; [`StartError::NoRuntime`] outside a
    /// Tokio runtime. A Redis that is down is not an error: see [`health`](Self::health).
    pub fn new(config: RedisConfig) -> Result<Self, StartError> {
        config.check()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let client = crate::connection::client(&config.url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_min_delay(crate::connection::Backoff::FIRST)
            .set_max_delay(config.reconnect_max_delay);
        let commands = {
            // The lazy manager spawns its helper task on the current runtime.
            let _guard = runtime.enter();
            ConnectionManager::new_lazy_with_config(client.clone(), manager_config).map_err(
                |err| ConfigError::Url {
                    url: crate::connection::redact(&config.url),
                    reason: err.to_string(),
                },
            )?
        };
        let node: Arc<str> = Arc::from(uuid::Uuid::new_v4().simple().to_string());
        let stats = Arc::new(Stats::default());
        let (outgoing, queue) = mpsc::channel(config.publish_queue);
        let (closed, _) = watch::channel(());
        let (release, released) = mpsc::unbounded_channel();
        let leases = Arc::new(LeaseTable::new(release));
        runtime.spawn(backend::publisher(
            queue,
            commands.clone(),
            Arc::clone(&stats),
            config.clone(),
            Arc::clone(&node),
            closed.subscribe(),
        ));
        runtime.spawn(limits::lease_keeper(
            Arc::clone(&leases),
            released,
            commands.clone(),
            Arc::clone(&stats),
            config.clone(),
            closed.subscribe(),
        ));
        tracing::info!(node = %node, url = %crate::connection::redact(&config.url), prefix = %config.prefix, "redis cluster link starting");
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                node,
                client,
                commands,
                stats,
                outgoing,
                seq: AtomicU64::new(0),
                leases,
                runtime,
                closed,
            }),
        })
    }

    /// The [`BroadcastBackend`](pkg_router::hub::BroadcastBackend) for this node's hub:
    /// `Hub::with_backend(cluster.backend())`.
    pub fn backend(&self) -> RedisBackend {
        RedisBackend {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The [`SharedLimits`](pkg_router::transport::SharedLimits) for this node's endpoint:
    /// `endpoint.with_shared_limits(cluster.limits())`.
    pub fn limits(&self) -> RedisLimits {
        RedisLimits {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The count cache every node shares (pagination totals).
    pub fn counts(&self) -> crate::SharedCounts {
        crate::SharedCounts {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The link's state and counters now.
    pub fn health(&self) -> Health {
        self.shared.stats.snapshot()
    }

    /// This node's id (a random UUID per process), as it appears in logs and messages.
    pub fn node_id(&self) -> &str {
        &self.shared.node
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCluster")
            .field("node", &self.shared.node)
            .field("config", &self.shared.config)
            .field("health", &self.health())
            .finish()
    }
}
