//! [`RedisBackend`]: hub events to and from the other nodes, over one pub/sub channel.

use crate::cluster::Shared;
use crate::config::RedisConfig;
use crate::connection::Backoff;
use crate::health::Stats;
use crate::wire::{self, Incoming};
use bytes::Bytes;
use futures_util::StreamExt;
use pkg_router::hub::{BroadcastBackend, HubEvent, RemoteDelivery};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// Pushes and kicks between the nodes of a cluster, through Redis pub/sub; made by
/// [`RedisCluster::backend`](crate::RedisCluster::backend) for
/// [`Hub::with_backend`](pkg_router::Hub::with_backend).
///
/// [`publish`](BroadcastBackend::publish) encodes the event (the push's frame as it is) and
/// queues it without waiting; a publisher task sends the queue to Redis in order, in batches.
/// A subscriber task hands other nodes' events to the hub and skips this node's own. See the
/// [crate docs](crate) for the failure behaviour.
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) shared: Arc<Shared>,
}

/// An encoded message waiting for the publisher.
#[derive(Debug)]
pub(crate) struct Outgoing {
    queued: Instant,
    message: Bytes,
}

impl BroadcastBackend for RedisBackend {
    fn start(&self, delivery: RemoteDelivery) {
        let shared = &self.shared;
        shared.runtime.spawn(subscriber(
            shared.client.clone(),
            delivery,
            Arc::clone(&shared.stats),
            shared.config.clone(),
            Arc::clone(&shared.node),
            shared.closed.subscribe(),
        ));
    }

    fn publish(&self, event: &HubEvent) {
        let shared = &self.shared;
        let seq = shared.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let message = match wire::encode(&shared.node, seq, wall_clock_ms(), event) {
            Ok(message) => message,
            Err(_) => {
                tracing::warn!("an event of a kind this backend does not know stays on this node");
                shared.stats.drop_events(1, "unsupported");
                return;
            }
        };
        if !shared.stats.up.load(Ordering::Relaxed) {
            // The link is known to be down (or not up yet): dropped now, never sent late.
            shared.stats.drop_events(1, "down");
            return;
        }
        let outgoing = Outgoing {
            queued: Instant::now(),
            message,
        };
        match shared.outgoing.try_send(outgoing) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!("publish queue full: event dropped");
                shared.stats.drop_events(1, "queue_full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => shared.stats.drop_events(1, "closed"),
        }
    }
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("node", &self.shared.node)
            .finish_non_exhaustive()
    }
}

/// Events sent in one pipeline at most.
const MAX_BATCH: usize = 256;

/// Sends queued events to the channel, in order, in pipelined batches; publishes a heartbeat
/// every `config.heartbeat`. Ends when every handle is gone.
pub(crate) async fn publisher(
    mut queue: mpsc::Receiver<Outgoing>,
    mut commands: ConnectionManager,
    stats: Arc<Stats>,
    config: RedisConfig,
    node: Arc<str>,
    mut closed: watch::Receiver<()>,
) {
    let channel = config.channel();
    let mut heartbeat = tokio::time::interval(config.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch: Vec<Outgoing> = Vec::with_capacity(MAX_BATCH);
    let mut failing = false;
    // When the last failure was seen: what was queued before it was published during an
    // outage, and is dropped rather than sent once Redis is back.
    let mut failed_at: Option<Instant> = None;
    loop {
        let beat = tokio::select! {
            received = queue.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    return;
                }
                false
            }
            _ = heartbeat.tick() => true,
            _ = closed.changed() => return,
        };
        // Late is worse than lost: a push that waited out an outage is not delivered now.
        let now = Instant::now();
        let before = batch.len();
        batch.retain(|event| now.duration_since(event.queued) <= config.max_publish_delay);
        stats.drop_events((before - batch.len()) as u64, "stale");
        if let Some(failed_at) = failed_at {
            let before = batch.len();
            batch.retain(|event| event.queued > failed_at);
            stats.drop_events((before - batch.len()) as u64, "outage");
        }
        if batch.is_empty() && !beat {
            continue;
        }
        let mut pipe = redis::pipe();
        for event in &batch {
            pipe.cmd("PUBLISH")
                .arg(&channel)
                .arg(event.message.as_ref())
                .ignore();
        }
        if beat {
            pipe.cmd("PUBLISH")
                .arg(&channel)
                .arg(wire::beat(&node, 0).as_ref())
                .ignore();
        }
        let events = batch.len() as u64;
        let sent = tokio::time::timeout(
            config.command_timeout,
            pipe.query_async::<()>(&mut commands),
        )
        .await;
        match sent {
            Ok(Ok(())) => {
                stats.published.fetch_add(events, Ordering::Relaxed);
                #[cfg(feature = "metrics")]
                metrics::counter!("redis_backend_published_total").increment(events);
                if failing {
                    tracing::info!("publishing to redis again");
                    failing = false;
                }
                stats.publishing.store(true, Ordering::Relaxed);
            }
            Ok(Err(err)) => {
                if !failing {
                    tracing::warn!(error = %err, "publishing to redis failed: pushes stay on this node");
                    failing = true;
                }
                stats.drop_events(events, "redis_error");
                failed_at = Some(Instant::now());
                stats.publishing.store(false, Ordering::Relaxed);
            }
            Err(_) => {
                if !failing {
                    tracing::warn!(
                        timeout_ms = config.command_timeout.as_millis() as u64,
                        "redis did not take a publish in time: pushes stay on this node"
                    );
                    failing = true;
                }
                stats.drop_events(events, "timeout");
                failed_at = Some(Instant::now());
                stats.publishing.store(false, Ordering::Relaxed);
            }
        }
        stats.update();
        batch.clear();
    }
}

/// Listens on the channel and delivers other nodes' events to the hub, reopening the
/// subscription whenever it fails or goes silent, without a limit on attempts. Ends when the
/// hub is gone or every handle is.
pub(crate) async fn subscriber(
    client: redis::Client,
    delivery: RemoteDelivery,
    stats: Arc<Stats>,
    config: RedisConfig,
    node: Arc<str>,
    mut closed: watch::Receiver<()>,
) {
    let channel = config.channel();
    let silent_after = config.heartbeat * 3;
    let max_delay_ms = u64::try_from(config.max_publish_delay.as_millis()).unwrap_or(u64::MAX);
    let mut backoff = Backoff::new(config.reconnect_max_delay);
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut opened_before = false;
    loop {
        let open = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            opened = tokio::time::timeout(config.connect_timeout, open) => opened,
            _ = closed.changed() => return,
        };
        let pubsub = match pubsub {
            Ok(Ok(pubsub)) => pubsub,
            failed => {
                let error = match failed {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::debug!(%error, "cannot subscribe to redis; retrying");
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = closed.changed() => return,
                }
            }
        };
        if opened_before {
            stats.resubscribes.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "metrics")]
            metrics::counter!("redis_backend_resubscribes_total").increment(1);
        }
        opened_before = true;
        backoff.reset();
        tracing::info!(%channel, "subscribed to redis");
        stats.subscribed.store(true, Ordering::Relaxed);
        stats.update();
        let mut messages = pubsub.into_on_message();
        let mut deadline = Instant::now() + silent_after;
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(silent_ms = silent_after.as_millis() as u64, "redis subscription silent (no heartbeat of ours came back): reopening it");
                    break;
                }
                _ = closed.changed() => return,
            };
            let Some(message) = message else {
                tracing::warn!("redis subscription lost: reopening it");
                break;
            };
            let incoming = match wire::decode(message.get_payload_bytes()) {
                Ok(incoming) => incoming,
                Err(err) => {
                    // Debug escapes whatever text of the message the error quotes.
                    tracing::warn!(error = ?err, "unreadable message on the push channel, skipped");
                    continue;
                }
            };
            if incoming.node() == &*node {
                // Our own message: never delivered twice (the hub delivered it locally). Our
                // heartbeat proves the whole path works.
                if matches!(incoming, Incoming::Beat { .. }) {
                    deadline = Instant::now() + silent_after;
                }
                continue;
            }
            let seq = incoming.seq();
            let Incoming::Event {
                node: from,
                event,
                at,
                ..
            } = incoming
            else {
                continue;
            };
            count_gap(&stats, &mut last_seq, from, seq);
            // Late is worse than lost: a batch that sat in a stalled server is delivered when it
            // wakes up, long after the fact. Node clocks are assumed to agree to well within
            // max_publish_delay (NTP does).
            if at != 0 && wall_clock_ms().saturating_sub(at) > max_delay_ms {
                stats.drop_events(1, "late");
                continue;
            }
            if delivery.deliver(&event).is_none() {
                tracing::debug!("hub gone: the subscriber stops");
                return;
            }
            stats.received.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "metrics")]
            metrics::counter!("redis_backend_received_total").increment(1);
        }
        stats.subscribed.store(false, Ordering::Relaxed);
        stats.update();
        let delay = backoff.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = closed.changed() => return,
        }
    }
}

/// Now on this machine's wall clock, in ms since the Unix epoch (0 if the clock is before it).
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Nodes whose sequence numbers are tracked at most.
const MAX_TRACKED_NODES: usize = 4096;

/// Counts the events of `from` skipped between its last one and `seq` (lost while either side
/// was cut off, or dropped by the sender).
fn count_gap(stats: &Stats, last_seq: &mut HashMap<String, u64>, from: String, seq: u64) {
    // Every restarted process is a new node: forget them all now and then rather than grow
    // forever (a gap spanning the reset goes uncounted).
    if last_seq.len() >= MAX_TRACKED_NODES && !last_seq.contains_key(&from) {
        last_seq.clear();
    }
    let last = last_seq.entry(from).or_insert(seq.saturating_sub(1));
    if seq > *last + 1 {
        let missed = seq - *last - 1;
        stats.missed.fetch_add(missed, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("redis_backend_missed_total").increment(missed);
    }
    *last = (*last).max(seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_a_nodes_sequence_are_counted_once() {
        let stats = Stats::default();
        let mut last = HashMap::new();
        for seq in [5, 6, 9, 10, 8] {
            count_gap(&stats, &mut last, "a".into(), seq);
        }
        count_gap(&stats, &mut last, "b".into(), 1);
        assert_eq!(
            stats.missed.load(Ordering::Relaxed),
            2,
            "7 and 8 (8 came late)"
        );
    }
}
