//! [`SharedLimits`]: the per-principal connection limit and the rate limit, counted by a store
//! every node of a cluster shares (Redis, in `pkg-router-redis`) instead of by each process.

use super::config::RateLimit;
use super::rate_limit::Limiter;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The future a [`SharedLimits`] method returns (boxed: the trait is used as `dyn`).
pub type LimitFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long the transport waits for a [`SharedLimits`] answer by default
/// ([`SharedLimits::timeout`]).
pub const DEFAULT_SHARED_LIMIT_TIMEOUT: Duration = Duration::from_millis(500);

/// Limits counted across the nodes of a cluster: the per-principal connection limit
/// ([`WsConfig::max_connections_per_principal`](super::WsConfig::max_connections_per_principal))
/// and, opt-in, the rate limit ([`WsConfig::rate_limit`](super::WsConfig::rate_limit)).
///
/// Give one to [`Endpoint::with_shared_limits`](super::Endpoint::with_shared_limits). Without
/// it every node counts its own connections and messages, so a principal may hold
/// `max_connections_per_principal` connections *per node*. With it:
///
/// - **Connections.** After authentication, the transport asks
///   [`acquire_connection`](Self::acquire_connection) for one of the principal's slots; a
///   refusal closes the connection with 1008 "Maximum concurrent connections exceeded", as the
///   local limit does. The per-node limit still applies too. The [`ConnectionLease`] is held
///   for the connection's life and released (dropped) when it closes. Anonymous connections
///   take no slot.
/// - **Rate.** When [`shares_rate_limit`](Self::shares_rate_limit) is true, each request of an
///   authenticated principal is checked with [`check_rate`](Self::check_rate) instead of the
///   local limiter (anonymous callers, limited per connection, stay local). It costs a round
///   trip per request, which is why it is a separate choice.
/// - **Failures.** Every call is bounded by [`timeout`](Self::timeout). An error or a timeout
///   follows [`on_unavailable`](Self::on_unavailable): [`FailMode::Open`] (the default) falls
///   back to the per-node limits, [`FailMode::Closed`] refuses (the connection with 1013 "try
///   again later", the request with `rate_limited`). Either is logged as a warning and counted
///   in `shared_limit_unavailable_total{limit, mode}` (feature `metrics`).
///
/// A call runs on the connection's own task: a connection waiting for its slot delays nobody
/// else, and a request waiting for its rate check holds one of the connection's
/// [`max_in_flight`](super::WsConfig::max_in_flight) slots, never the connection's loop.
///
/// [`LocalLimits`] is the in-process implementation (the reference semantics, and a test
/// double).
///
/// # Examples
///
/// A store that refuses everything (a real one asks a shared server):
///
/// ```
/// use pkg_router::transport::{
///     ConnectionLease, LimitFuture, RateCheck, RateLimit, SharedLimitError, SharedLimits,
/// };
///
/// struct Closed;
///
/// impl SharedLimits for Closed {
///     fn acquire_connection<'a>(
///         &'a self,
///         _principal_id: &'a str,
///         _max: usize,
///     ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>> {
///         Box::pin(async { Ok(None) }) // every slot taken
///     }
///
///     fn check_rate<'a>(
///         &'a self,
///         _key: &'a str,
///         _limit: RateLimit,
///     ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>> {
///         Box::pin(async { Err(SharedLimitError::unavailable("no store")) })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert!(Closed.acquire_connection("ann", 5).await?.is_none());
/// # Ok::<(), SharedLimitError>(())
/// # }).unwrap();
/// ```
pub trait SharedLimits: Send + Sync + 'static {
    /// Takes one of `principal_id`'s `max` connection slots: `Ok(Some(lease))` when one is
    /// free (dropping the lease frees it), `Ok(None)` when all are taken.
    ///
    /// # Errors
    ///
    /// [`SharedLimitError`] when the store cannot answer; the transport then applies
    /// [`on_unavailable`](Self::on_unavailable).
    fn acquire_connection<'a>(
        &'a self,
        principal_id: &'a str,
        max: usize,
    ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>>;

    /// Counts one message of `key` (a principal id) against `limit` and says whether it may
    /// run now. The semantics are the local limiter's: a token bucket of `limit.messages`
    /// tokens refilled continuously over `limit.period` (GCRA).
    ///
    /// Called only when [`shares_rate_limit`](Self::shares_rate_limit) is true.
    ///
    /// # Errors
    ///
    /// [`SharedLimitError`] when the store cannot answer.
    fn check_rate<'a>(
        &'a self,
        key: &'a str,
        limit: RateLimit,
    ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>>;

    /// Whether the rate limit is shared too (it costs a round trip per request). Default:
    /// `false`, the rate limit stays per node.
    fn shares_rate_limit(&self) -> bool {
        false
    }

    /// The longest the transport waits for an answer before applying
    /// [`on_unavailable`](Self::on_unavailable). Default: [`DEFAULT_SHARED_LIMIT_TIMEOUT`].
    fn timeout(&self) -> Duration {
        DEFAULT_SHARED_LIMIT_TIMEOUT
    }

    /// What to do when the store fails or times out. Default: [`FailMode::Open`].
    fn on_unavailable(&self) -> FailMode {
        FailMode::Open
    }
}

/// What the transport does when a [`SharedLimits`] store fails or does not answer in time.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::FailMode;
///
/// assert_eq!(FailMode::default(), FailMode::Open);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailMode {
    /// Fall back to the per-node limits: the service stays up, a principal may exceed the
    /// cluster limit while the store is away.
    #[default]
    Open,
    /// Refuse: a new connection is closed with 1013 "try again later", a request is answered
    /// `rate_limited`. The limits hold, the service does not.
    Closed,
}

/// The answer of [`SharedLimits::check_rate`].
///
/// # Examples
///
/// ```
/// use pkg_router::transport::RateCheck;
/// use std::time::Duration;
///
/// let limited = RateCheck::Limited { retry_after: Duration::from_millis(600) };
/// assert_ne!(limited, RateCheck::Allowed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateCheck {
    /// The message may run.
    Allowed,
    /// Over budget: the earliest the next message may run.
    Limited {
        /// How long until a message is allowed again.
        retry_after: Duration,
    },
}

/// Why a [`SharedLimits`] store gave no answer.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::SharedLimitError;
///
/// let err = SharedLimitError::unavailable("connection refused");
/// assert_eq!(err.to_string(), "shared limits unavailable: connection refused");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SharedLimitError {
    /// The store cannot be reached or failed.
    #[error("shared limits unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the logs.
        reason: String,
    },
    /// The store did not answer within [`SharedLimits::timeout`].
    #[error("shared limits did not answer within {after:?}")]
    TimedOut {
        /// The timeout that passed.
        after: Duration,
    },
}

impl SharedLimitError {
    /// [`SharedLimitError::Unavailable`] with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::SharedLimitError;
    ///
    /// assert!(matches!(SharedLimitError::unavailable("down"), SharedLimitError::Unavailable { .. }));
    /// ```
    pub fn unavailable(reason: impl fmt::Display) -> Self {
        Self::Unavailable {
            reason: reason.to_string(),
        }
    }
}

/// A connection slot taken from a [`SharedLimits`] store; dropping it frees the slot.
///
/// A store builds one with the code that releases the slot; that code runs once, on drop, on
/// the dropping thread: it must not block (hand the release to a task, as `pkg-router-redis`
/// does).
///
/// # Examples
///
/// ```
/// use pkg_router::transport::ConnectionLease;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let held = Arc::new(AtomicUsize::new(1));
/// let lease = ConnectionLease::new({
///     let held = Arc::clone(&held);
///     move || { held.fetch_sub(1, Ordering::SeqCst); }
/// });
/// drop(lease);
/// assert_eq!(held.load(Ordering::SeqCst), 0);
/// ```
#[must_use = "dropping the lease frees the slot at once"]
pub struct ConnectionLease {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl ConnectionLease {
    /// A lease that runs `release` when dropped.
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            release: Some(Box::new(release)),
        }
    }
}

impl Drop for ConnectionLease {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl fmt::Debug for ConnectionLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionLease").finish_non_exhaustive()
    }
}

/// [`SharedLimits`] counted in this process: what a shared store must behave like, for one
/// node. Useful in tests, and to share limits between several endpoints of one process.
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{LocalLimits, RateCheck, RateLimit, SharedLimits};
/// use std::time::Duration;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limits = LocalLimits::new();
/// let first = limits.acquire_connection("ann", 1).await?;
/// assert!(first.is_some());
/// assert!(limits.acquire_connection("ann", 1).await?.is_none()); // the one slot is taken
/// drop(first);
/// assert!(limits.acquire_connection("ann", 1).await?.is_some());
///
/// let limit = RateLimit::new(1, Duration::from_secs(60));
/// assert_eq!(limits.check_rate("ann", limit).await?, RateCheck::Allowed);
/// assert!(matches!(limits.check_rate("ann", limit).await?, RateCheck::Limited { .. }));
/// # Ok::<(), pkg_router::transport::SharedLimitError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct LocalLimits {
    inner: Arc<LocalInner>,
}

#[derive(Default)]
struct LocalInner {
    connections: Mutex<HashMap<String, usize>>,
    limiters: Mutex<HashMap<RateLimit, Arc<Limiter>>>,
}

impl LocalLimits {
    /// No connection held, every budget full.
    pub fn new() -> Self {
        Self::default()
    }

    /// The connection slots `principal_id` holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{LocalLimits, SharedLimits};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let limits = LocalLimits::new();
    /// let _lease = limits.acquire_connection("ann", 5).await.unwrap();
    /// assert_eq!(limits.held("ann"), 1);
    /// # });
    /// ```
    pub fn held(&self, principal_id: &str) -> usize {
        let connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.get(principal_id).copied().unwrap_or(0)
    }
}

impl SharedLimits for LocalLimits {
    fn acquire_connection<'a>(
        &'a self,
        principal_id: &'a str,
        max: usize,
    ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>> {
        let mut connections = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let held = connections.entry(principal_id.to_owned()).or_default();
        let lease = (*held < max).then(|| {
            *held += 1;
            let inner = Arc::clone(&self.inner);
            let principal_id = principal_id.to_owned();
            ConnectionLease::new(move || {
                let mut connections = inner
                    .connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(held) = connections.get_mut(&principal_id) {
                    *held = held.saturating_sub(1);
                    if *held == 0 {
                        connections.remove(&principal_id);
                    }
                }
            })
        });
        if connections.get(principal_id) == Some(&0) {
            connections.remove(principal_id);
        }
        Box::pin(std::future::ready(Ok(lease)))
    }

    fn check_rate<'a>(
        &'a self,
        key: &'a str,
        limit: RateLimit,
    ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>> {
        let limiter = {
            let mut limiters = self
                .inner
                .limiters
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                limiters
                    .entry(limit)
                    .or_insert_with(|| Arc::new(Limiter::new(limit))),
            )
        };
        let check = match limiter.check(&Arc::from(key)) {
            Ok(()) => RateCheck::Allowed,
            Err(retry_after) => RateCheck::Limited { retry_after },
        };
        Box::pin(std::future::ready(Ok(check)))
    }

    fn shares_rate_limit(&self) -> bool {
        true
    }
}

impl fmt::Debug for LocalLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLimits").finish_non_exhaustive()
    }
}

/// What the transport does with a store's answer, a failure or a timeout applied.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict<T> {
    /// The store answered.
    Answer(T),
    /// The store failed and the mode is [`FailMode::Open`]: use the per-node limit.
    FallBack,
    /// The store failed and the mode is [`FailMode::Closed`]: refuse.
    Refuse,
}

/// Runs one call of `limits` within its timeout and applies its [`FailMode`] to a failure
/// (logged and counted under `limit`).
pub(super) async fn ask<T>(
    limits: &dyn SharedLimits,
    limit: &'static str,
    call: LimitFuture<'_, Result<T, SharedLimitError>>,
) -> Verdict<T> {
    let after = limits.timeout();
    let err = match tokio::time::timeout(after, call).await {
        Ok(Ok(answer)) => return Verdict::Answer(answer),
        Ok(Err(err)) => err,
        Err(_) => SharedLimitError::TimedOut { after },
    };
    let mode = limits.on_unavailable();
    let mode_name = match mode {
        FailMode::Open => "open",
        FailMode::Closed => "closed",
    };
    tracing::warn!(limit, mode = mode_name, error = %err, "shared limit unavailable");
    #[cfg(feature = "metrics")]
    metrics::counter!("shared_limit_unavailable_total", "limit" => limit, "mode" => mode_name)
        .increment(1);
    match mode {
        FailMode::Open => Verdict::FallBack,
        FailMode::Closed => Verdict::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that never answers, or fails at once.
    struct Broken {
        hang: bool,
        mode: FailMode,
    }

    impl SharedLimits for Broken {
        fn acquire_connection<'a>(
            &'a self,
            _principal_id: &'a str,
            _max: usize,
        ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>> {
            if self.hang {
                Box::pin(std::future::pending())
            } else {
                Box::pin(async { Err(SharedLimitError::unavailable("down")) })
            }
        }

        fn check_rate<'a>(
            &'a self,
            _key: &'a str,
            _limit: RateLimit,
        ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>> {
            Box::pin(std::future::pending())
        }

        fn timeout(&self) -> Duration {
            Duration::from_millis(20)
        }

        fn on_unavailable(&self) -> FailMode {
            self.mode
        }
    }

    #[tokio::test]
    async fn a_store_that_hangs_is_given_up_after_its_timeout() {
        for (mode, expected) in [
            (FailMode::Open, Verdict::FallBack),
            (FailMode::Closed, Verdict::Refuse),
        ] {
            let broken = Broken { hang: true, mode };
            let verdict = ask(&broken, "connections", broken.acquire_connection("ann", 1)).await;
            assert_eq!(verdict.map_lease(), expected);
        }
    }

    #[tokio::test]
    async fn a_failing_store_follows_its_fail_mode() {
        for (mode, expected) in [
            (FailMode::Open, Verdict::FallBack),
            (FailMode::Closed, Verdict::Refuse),
        ] {
            let broken = Broken { hang: false, mode };
            let verdict = ask(&broken, "connections", broken.acquire_connection("ann", 1)).await;
            assert_eq!(verdict.map_lease(), expected);
        }
    }

    #[tokio::test]
    async fn local_limits_free_a_slot_when_its_lease_drops() {
        let limits = LocalLimits::new();
        let a = limits.acquire_connection("ann", 2).await.unwrap();
        let b = limits.acquire_connection("ann", 2).await.unwrap();
        assert!(a.is_some() && b.is_some());
        assert!(limits.acquire_connection("ann", 2).await.unwrap().is_none());
        assert_eq!(limits.held("ann"), 2);
        drop(a);
        assert_eq!(limits.held("ann"), 1);
        assert!(limits.acquire_connection("bob", 0).await.unwrap().is_none());
        assert_eq!(limits.held("bob"), 0, "a refusal holds nothing");
    }

    impl Verdict<Option<ConnectionLease>> {
        /// The verdict without the lease (leases do not compare).
        fn map_lease(self) -> Verdict<bool> {
            match self {
                Verdict::Answer(lease) => Verdict::Answer(lease.is_some()),
                Verdict::FallBack => Verdict::FallBack,
                Verdict::Refuse => Verdict::Refuse,
            }
        }
    }
}
