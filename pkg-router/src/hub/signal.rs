//! What the hub tells one connection from outside its loop: close (with a reason), or the
//! server is shutting down.
//!
//! Why not two `tokio::sync::watch` channels: a watch channel is about 360 bytes and each
//! waiting `changed()` future had to be boxed in the connection's loop; this is one small
//! allocation per connection, polled in place.
//!
//! Invariants: a setter stores its flag or reason before it wakes, and the connection
//! registers its waker before it reads them, so no signal is missed.

use super::CloseReason;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// Shared by the connection's loop and the hub's entry for it; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct ConnectionSignal {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    reason: Mutex<Option<CloseReason>>,
    closing: AtomicBool,
    shutting_down: AtomicBool,
    waker: AtomicWaker,
}

impl ConnectionSignal {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A panic while the lock was held cannot leave a half-written `Option`, so a poisoned
    /// lock is used as it is.
    fn reason_slot(&self) -> MutexGuard<'_, Option<CloseReason>> {
        self.inner
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the connection to close with `reason` (replacing an earlier reason).
    pub(crate) fn close(&self, reason: CloseReason) {
        *self.reason_slot() = Some(reason);
        self.inner.closing.store(true, Ordering::Release);
        self.inner.waker.wake();
    }

    /// Like [`close`](Self::close), unless a reason is already set; whether it was set now.
    #[cfg_attr(not(feature = "transport"), allow(dead_code))]
    pub(crate) fn close_if_open(&self, reason: CloseReason) -> bool {
        {
            let mut slot = self.reason_slot();
            if slot.is_some() {
                return false;
            }
            *slot = Some(reason);
        }
        self.inner.closing.store(true, Ordering::Release);
        self.inner.waker.wake();
        true
    }

    /// Tells the connection that the server is shutting down.
    pub(crate) fn shut_down(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        self.inner.waker.wake();
    }

    /// The close reason, once one is set.
    pub(crate) fn reason(&self) -> Option<CloseReason> {
        self.reason_slot().clone()
    }

    /// Whether a close reason is set (no lock taken).
    #[cfg_attr(not(feature = "transport"), allow(dead_code))]
    pub(crate) fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    #[cfg_attr(not(feature = "transport"), allow(dead_code))]
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }

    /// Wakes `waker` at the next signal. Call before reading the flags.
    #[cfg_attr(not(feature = "transport"), allow(dead_code))]
    pub(crate) fn register(&self, waker: &Waker) {
        self.inner.waker.register(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::close_code;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn close_replaces_close_if_open_keeps_and_every_signal_wakes() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let signal = ConnectionSignal::new();
        let hub_side = signal.clone();
        signal.register(&waker);
        assert!(!signal.is_closing() && !signal.is_shutting_down());

        hub_side.shut_down();
        assert!(signal.is_shutting_down() && !signal.is_closing());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);

        signal.register(&waker);
        assert!(hub_side.close_if_open(CloseReason::going_away()));
        signal.register(&waker);
        assert!(!hub_side.close_if_open(CloseReason::slow_consumer()));
        assert_eq!(signal.reason(), Some(CloseReason::going_away()));
        assert!(signal.is_closing());

        signal.register(&waker);
        let banned = CloseReason::new(close_code::POLICY, "banned");
        hub_side.close(banned.clone());
        assert_eq!(signal.reason(), Some(banned));
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
    }
}
