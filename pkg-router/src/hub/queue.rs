//! A connection's push queue: bounded, many senders (whoever pushes through the hub), one
//! receiver (the connection's driver).
//!
//! Why not `tokio::sync::mpsc`: its channel allocates a block of 32 slots when it is created,
//! 1.3 KiB per connection whether a push ever comes or not, and most connections of a large
//! deployment sit idle. This queue allocates its storage at the first push and keeps it
//! afterwards (at most `capacity` items, so a busy connection does not allocate per push).
//!
//! Invariants: the receiver registers its waker before its last emptiness check, and a sender
//! wakes it after every push and when the last sender goes, so no push and no end is missed.

use super::Outbound;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

/// A queue holding at most `capacity` items (at least one).
pub(crate) fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        items: Mutex::new(VecDeque::new()),
        queued: AtomicUsize::new(0),
        capacity: capacity.max(1),
        waker: AtomicWaker::new(),
        senders: AtomicUsize::new(1),
        receiver_alive: AtomicBool::new(true),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

struct Shared {
    items: Mutex<VecDeque<Outbound>>,
    /// `items.len()`, readable without the lock: the connection asks after every answer
    /// whether pushes wait, and the answer is nearly always no.
    queued: AtomicUsize,
    capacity: usize,
    waker: AtomicWaker,
    senders: AtomicUsize,
    receiver_alive: AtomicBool,
}

impl Shared {
    /// A panic while the lock was held cannot leave the deque inconsistent (every operation
    /// on it is a single call), so a poisoned lock is used as it is.
    fn items(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why [`Sender::try_send`] did not queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrySendError {
    /// `capacity` items are waiting: the consumer is too slow.
    Full,
    /// The receiver is gone (the connection ended).
    Closed,
}

/// The pushing side; cheap to clone.
pub(crate) struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Queues `message` without waiting.
    pub(crate) fn try_send(&self, message: Outbound) -> Result<(), TrySendError> {
        if !self.shared.receiver_alive.load(Ordering::Acquire) {
            return Err(TrySendError::Closed);
        }
        {
            let mut items = self.shared.items();
            if items.len() >= self.shared.capacity {
                return Err(TrySendError::Full);
            }
            items.push_back(message);
            self.shared.queued.store(items.len(), Ordering::Release);
        }
        self.shared.waker.wake();
        Ok(())
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The receiver sees the end once the queue is drained.
            self.shared.waker.wake();
        }
    }
}

/// The connection's side.
pub(crate) struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    /// The oldest waiting item, if any (no waker registered).
    pub(crate) fn try_recv(&mut self) -> Option<Outbound> {
        // Stored under the lock after each change; a push racing this read is found by the
        // next call (the sender wakes the connection after it).
        if self.shared.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut items = self.shared.items();
        let item = items.pop_front();
        self.shared.queued.store(items.len(), Ordering::Release);
        item
    }

    /// The oldest item; `Ready(None)` once the queue is empty and every sender is gone.
    #[cfg_attr(not(feature = "transport"), allow(dead_code))]
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outbound>> {
        if let Some(item) = self.try_recv() {
            return Poll::Ready(Some(item));
        }
        self.shared.waker.register(cx.waker());
        // Again after registering: a push between the first check and the registration
        // would otherwise wait for the next one.
        if let Some(item) = self.try_recv() {
            return Poll::Ready(Some(item));
        }
        if self.shared.senders.load(Ordering::Acquire) == 0 {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.receiver_alive.store(false, Ordering::Release);
        // Senders may outlive the connection for a moment (the hub's entry): free what waits.
        let mut items = self.shared.items();
        drop(std::mem::take(&mut *items));
        self.shared.queued.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::task::noop_waker_ref;

    fn text(s: &'static str) -> Outbound {
        Outbound::Text(Bytes::from_static(s.as_bytes()))
    }

    fn body(item: Option<Outbound>) -> Option<Bytes> {
        match item {
            Some(Outbound::Text(bytes)) => Some(bytes),
            _ => None,
        }
    }

    #[test]
    fn bounded_in_order_and_closed_when_the_receiver_goes() {
        let (tx, mut rx) = channel(2);
        assert_eq!(tx.try_send(text("a")), Ok(()));
        assert_eq!(tx.try_send(text("b")), Ok(()));
        assert_eq!(tx.try_send(text("c")), Err(TrySendError::Full));
        assert_eq!(body(rx.try_recv()), Some(Bytes::from_static(b"a")));
        assert_eq!(tx.try_send(text("c")), Ok(()));
        assert_eq!(body(rx.try_recv()), Some(Bytes::from_static(b"b")));
        assert_eq!(body(rx.try_recv()), Some(Bytes::from_static(b"c")));
        assert!(rx.try_recv().is_none());
        drop(rx);
        assert_eq!(tx.try_send(text("d")), Err(TrySendError::Closed));
    }

    #[test]
    fn poll_recv_ends_after_the_last_sender_and_a_drained_queue() {
        let (tx, mut rx) = channel(4);
        let second = tx.clone();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert_eq!(second.try_send(text("x")), Ok(()));
        drop(second);
        drop(tx);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(_))));
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(None)));
    }

    #[test]
    fn a_push_wakes_the_waiting_receiver() {
        use std::sync::atomic::AtomicUsize;
        use std::task::{Wake, Waker};
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let (tx, mut rx) = channel(4);
        assert!(rx.poll_recv(&mut Context::from_waker(&waker)).is_pending());
        assert_eq!(tx.try_send(text("x")), Ok(()));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
