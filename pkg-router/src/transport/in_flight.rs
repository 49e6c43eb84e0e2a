//! The requests of one connection that are being handled, polled together.

use futures_util::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A set of request futures, like `FuturesUnordered`, that reuses one allocation for the common
/// case of a single request at a time.
///
/// A request future is over a kilobyte (the router's and the handler's state machines), so a
/// `FuturesUnordered` node per request lands outside glibc's thread cache and costs a slow
/// `malloc`/`free` pair each time; the reusable slot is allocated once per connection and
/// refilled in place. Requests beyond the first run in a `FuturesUnordered`, created when the
/// first of them comes: an empty one already holds a node the size of a request future, and
/// most connections never have two requests in flight.
pub(super) struct InFlight<F> {
    /// Allocated at the first request, kept for the connection's life; `None` inside when free.
    slot: Option<Pin<Box<Option<F>>>>,
    more: Option<FuturesUnordered<F>>,
}

impl<F: Future> InFlight<F> {
    pub(super) fn new() -> Self {
        Self {
            slot: None,
            more: None,
        }
    }

    /// Starts tracking `future`; it is first polled by the next [`Stream::poll_next`].
    pub(super) fn push(&mut self, future: F) {
        match &mut self.slot {
            Some(slot) if slot.is_none() => slot.set(Some(future)),
            Some(_) => self
                .more
                .get_or_insert_with(FuturesUnordered::new)
                .push(future),
            None => self.slot = Some(Box::pin(Some(future))),
        }
    }

    /// Frees the slot and the overflow set if no request is running (the next request
    /// allocates them again).
    pub(super) fn release_if_idle(&mut self) {
        if self.is_empty() {
            self.slot = None;
            self.more = None;
        }
    }

    /// How many requests are being handled.
    pub(super) fn len(&self) -> usize {
        usize::from(self.slot_busy()) + self.more.as_ref().map_or(0, FuturesUnordered::len)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot_busy(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| slot.is_some())
    }
}

impl<F: Future> Stream for InFlight<F> {
    type Item = F::Output;

    /// The output of a request that finished; `Ready(None)` when none is left.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let this = self.get_mut();
        if let Some(slot) = &mut this.slot
            && let Some(future) = slot.as_mut().as_pin_mut()
            && let Poll::Ready(output) = future.poll(cx)
        {
            slot.set(None);
            return Poll::Ready(Some(output));
        }
        let more = match &mut this.more {
            Some(more) => more.poll_next_unpin(cx),
            None => Poll::Ready(None),
        };
        match more {
            Poll::Ready(None) if this.slot_busy() => Poll::Pending,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;
    use futures_util::{FutureExt, StreamExt};
    use std::future::Future;
    use std::pin::Pin;
    use tokio::sync::oneshot;

    type Boxed = Pin<Box<dyn Future<Output = u32> + Send>>;

    fn waiting(rx: oneshot::Receiver<u32>) -> Boxed {
        Box::pin(async move { rx.await.unwrap_or(0) })
    }

    #[tokio::test]
    async fn outputs_arrive_in_completion_order_and_the_slot_is_reused() {
        let mut in_flight = InFlight::<Boxed>::new();
        assert!(in_flight.is_empty());
        assert_eq!(in_flight.next().now_or_never(), Some(None));
        assert!(
            in_flight.more.is_none(),
            "no overflow set before a second request"
        );

        let (first_tx, first_rx) = oneshot::channel();
        let (second_tx, second_rx) = oneshot::channel();
        in_flight.push(waiting(first_rx)); // the slot
        in_flight.push(waiting(second_rx)); // the overflow
        assert_eq!(in_flight.len(), 2);
        assert_eq!(
            in_flight.next().now_or_never(),
            None,
            "nothing finished yet"
        );

        // The overflow finishes first and is returned first; the slot still counts.
        second_tx.send(2).unwrap();
        assert_eq!(in_flight.next().await, Some(2));
        assert_eq!(in_flight.len(), 1);
        assert_eq!(
            in_flight.next().now_or_never(),
            None,
            "nothing finished yet"
        );

        first_tx.send(1).unwrap();
        assert_eq!(in_flight.next().await, Some(1));
        assert!(in_flight.is_empty());

        // The freed slot takes the next request.
        in_flight.push(Box::pin(async { 3 }));
        assert!(in_flight.slot_busy());
        in_flight.release_if_idle();
        assert!(in_flight.slot.is_some(), "a running request keeps its slot");
        assert_eq!(in_flight.next().await, Some(3));
        assert_eq!(in_flight.next().await, None);

        in_flight.release_if_idle();
        assert!(in_flight.slot.is_none() && in_flight.more.is_none());
        in_flight.push(Box::pin(async { 4 }));
        assert_eq!(in_flight.next().await, Some(4));
    }
}
