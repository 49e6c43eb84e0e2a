//! Message rate limits per principal, on `governor`'s keyed GCRA limiter.

use super::config::RateLimit;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// A keyed limiter: one budget per principal id (or per anonymous connection).
pub(crate) struct Limiter {
    limiter: DefaultKeyedRateLimiter<Arc<str>>,
    clock: DefaultClock,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let burst = NonZeroU32::new(limit.messages).unwrap_or(NonZeroU32::MIN);
        // One message every period/messages, with the whole budget as burst.
        let quota = Quota::with_period(limit.period / burst.get())
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` if `key` may send one more message now, else how long until it may.
    pub(crate) fn check(&self, key: &Arc<str>) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets keys whose budget is full again, so the map does not grow without bound.
    pub(crate) fn retain_recent(&self) {
        self.limiter.retain_recent();
    }
}
