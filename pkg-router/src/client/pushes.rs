//! [`Pushes`]: a subscription to the server's pushes, with its own bounded buffer.

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tokio::sync::Notify;

/// One push from the server: its `pkg_id` and `data`.
///
/// # Examples
///
/// ```
/// use pkg_router::client::PushMessage;
///
/// let push = PushMessage::new(100, serde_json::json!({"id": 1}));
/// assert_eq!(push.data_as::<serde_json::Value>()?["id"], 1);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PushMessage {
    /// The push's package id.
    pub pkg_id: u32,
    /// The push's data.
    pub data: Value,
}

impl PushMessage {
    /// A push of `data` under `pkg_id` (to test code that consumes pushes).
    ///
    /// # Examples
    ///
    /// See [`PushMessage`].
    pub fn new(pkg_id: u32, data: Value) -> Self {
        Self { pkg_id, data }
    }

    /// The data as a `T`.
    ///
    /// # Errors
    ///
    /// When the data does not deserialize into `T`.
    ///
    /// # Examples
    ///
    /// See [`PushMessage`].
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

/// One subscription's buffer, shared by the client's connection task (which fills it) and the
/// [`Pushes`] handle (which drains it).
#[derive(Debug)]
pub(super) struct Subscription {
    pkg_id: Option<u32>,
    capacity: usize,
    queue: Mutex<Buffer>,
    ready: Notify,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Buffer {
    pushes: VecDeque<Arc<PushMessage>>,
    lagged: u64,
}

impl Subscription {
    /// Queues `push` if this subscription wants it; a full buffer loses its oldest push.
    pub(super) fn offer(&self, push: &Arc<PushMessage>) {
        if self.pkg_id.is_some_and(|id| id != push.pkg_id) {
            return;
        }
        let mut buffer = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if buffer.pushes.len() >= self.capacity {
            buffer.pushes.pop_front();
            buffer.lagged += 1;
        }
        buffer.pushes.push_back(Arc::clone(push));
        drop(buffer);
        // Stores a permit when nobody waits: the next `next()` cannot miss it.
        self.ready.notify_one();
    }

    /// No more pushes will come (the client closed for good).
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }
}

/// The subscriptions of one client: weak, so a dropped [`Pushes`] costs nothing.
#[derive(Debug, Default)]
pub(super) struct Subscribers(Mutex<Vec<Weak<Subscription>>>);

impl Subscribers {
    pub(super) fn subscribe(&self, pkg_id: Option<u32>, capacity: usize) -> Pushes {
        let subscription = Arc::new(Subscription {
            pkg_id,
            capacity: capacity.max(1),
            queue: Mutex::new(Buffer::default()),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|weak| weak.strong_count() > 0);
        all.push(Arc::downgrade(&subscription));
        Pushes { subscription }
    }

    /// Hands `push` to every live subscription; never waits.
    pub(super) fn deliver(&self, push: PushMessage) {
        let push = Arc::new(push);
        for subscription in self.live() {
            subscription.offer(&push);
        }
    }

    pub(super) fn close(&self) {
        for subscription in self.live() {
            subscription.close();
        }
    }

    fn live(&self) -> Vec<Arc<Subscription>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

/// The pushes a client receives, from [`Client::pushes`](super::Client::pushes) or (one
/// `pkg_id`) [`Client::pushes_of`](super::Client::pushes_of). Each subscription sees every
/// push (of its `pkg_id`) that arrives after it was made.
///
/// Overflow policy: each subscription has its own buffer of
/// [`ClientBuilder::push_buffer`](super::ClientBuilder::push_buffer) pushes. When a push
/// arrives at a full buffer, the oldest push in it is dropped and [`lagged`](Self::lagged)
/// counts it; calls and other subscriptions are never held up.
///
/// # Examples
///
/// See [`Client`](super::Client).
#[derive(Debug)]
pub struct Pushes {
    subscription: Arc<Subscription>,
}

impl Pushes {
    /// The next push; `None` once the client is closed for good and the buffer is empty.
    ///
    /// # Examples
    ///
    /// See [`Client`](super::Client).
    pub async fn next(&mut self) -> Option<PushMessage> {
        loop {
            let next = self
                .subscription
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pushes
                .pop_front();
            if let Some(push) = next {
                return Some(PushMessage::clone(&push));
            }
            if self.subscription.closed.load(Ordering::Acquire) {
                return None;
            }
            self.subscription.ready.notified().await;
        }
    }

    /// The next push's data as a `T`; `None` once the client is closed for good.
    ///
    /// # Errors
    ///
    /// When the data does not deserialize into `T` (the push is consumed).
    ///
    /// # Examples
    ///
    /// See [`Client`](super::Client).
    pub async fn next_as<T: DeserializeOwned>(&mut self) -> Option<Result<T, serde_json::Error>> {
        let push = self.next().await?;
        Some(push.data_as())
    }

    /// How many pushes this subscription lost by falling behind (see the overflow policy).
    ///
    /// # Examples
    ///
    /// See [`Pushes`].
    pub fn lagged(&self) -> u64 {
        self.subscription
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lagged
    }
}
