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
pub trait BroadcastBackend: Send + Sync + 'static {
    /// Called once, when the hub is created, with the way back into the hub.
    fn start(&self, delivery: RemoteDelivery) {
        let _ = delivery;
    }

    /// Forwards a push to other nodes (its [`Push::json_frame`] is the natural payload).
    /// Must not block: queue and return.
    fn publish(&self, push: &Arc<Push>);
}

/// Single-process delivery: nothing to forward.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalBackend;

impl BroadcastBackend for LocalBackend {
    fn publish(&self, _push: &Arc<Push>) {}
}

/// Hands frames received from other nodes to this node's connections.
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
    pub fn deliver(&self, push: &Arc<Push>) -> Option<usize> {
        Hub::from_weak(&self.hub).map(|hub| hub.deliver_local(push))
    }
}

impl fmt::Debug for RemoteDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteDelivery").finish_non_exhaustive()
    }
}
