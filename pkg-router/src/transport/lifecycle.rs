//! Connection lifecycle hooks: code that runs when a connection opens (after authentication)
//! and when it has closed, so presence and cleanup need no hand-kept maps.

use crate::hub::{CloseReason, ConnectionId, Hub};
use crate::principal::Principal;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// The connection a lifecycle hook is about.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{ConnectionEvent, Endpoint, WsConfig};
/// use pkg_router::{Hub, Router};
///
/// let hub = Hub::new();
/// let router = Router::builder().hub(hub).allow_empty().build()?;
/// let endpoint = Endpoint::new(router, WsConfig::default())
///     .on_connect(|conn: &ConnectionEvent<'_>| {
///         // Presence: tell everyone who came (the hub is at hand).
///         let _ = conn.hub.broadcast(200u32, &serde_json::json!({"online": conn.principal.name}));
///     })
///     .on_disconnect(|conn: &ConnectionEvent<'_>, reason| {
///         if conn.hub.connections_of(&conn.principal.id).is_empty() {
///             let _ = conn.hub.broadcast(200u32, &serde_json::json!({"offline": conn.principal.name, "code": reason.code}));
///         }
///     });
/// # let _ = endpoint;
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectionEvent<'a> {
    /// The connection's id in the hub.
    pub id: ConnectionId,
    /// Who is connected (anonymous when authentication is optional or disabled).
    pub principal: &'a Principal,
    /// The peer's address, when the adapter knows it.
    pub peer: Option<SocketAddr>,
    /// The hub the connection is (or was) registered in.
    pub hub: &'a Hub,
}

pub(super) type ConnectHook = Arc<dyn Fn(&ConnectionEvent<'_>) + Send + Sync>;
pub(super) type DisconnectHook = Arc<dyn Fn(&ConnectionEvent<'_>, &CloseReason) + Send + Sync>;

/// The hooks of an endpoint.
#[derive(Clone, Default)]
pub(super) struct Lifecycle {
    pub(super) on_connect: Vec<ConnectHook>,
    pub(super) on_disconnect: Vec<DisconnectHook>,
}

impl Lifecycle {
    pub(super) fn connected(&self, event: &ConnectionEvent<'_>) {
        for hook in &self.on_connect {
            hook(event);
        }
    }

    pub(super) fn disconnected(&self, event: &ConnectionEvent<'_>, reason: &CloseReason) {
        for hook in &self.on_disconnect {
            hook(event, reason);
        }
    }
}

impl fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("on_connect", &self.on_connect.len())
            .field("on_disconnect", &self.on_disconnect.len())
            .finish()
    }
}
