//! Retry policy: exponential backoff with full jitter.

use std::time::Duration;

use rand::Rng;
use tauro_config::GlobalSettings;

/// How failed node attempts are retried.
///
/// Retry `n` (1-based) waits a random time in `[0, min(max_delay, base_delay × factor^(n-1))]`
/// ("full jitter"), so that nodes failing together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (a node's `retries` overrides it).
    pub max_retries: u32,
    /// Backoff of the first retry (before jitter).
    pub base_delay: Duration,
    /// Growth per retry.
    pub factor: f64,
    /// Upper bound of the backoff.
    pub max_delay: Duration,
    /// Full jitter on (default) or off (exact backoff, for tests and reproducible runs).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 0,
            base_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// `max_retries` and `retry_delay` from the global settings; factor 2, cap 60 s, jitter.
    pub fn from_settings(global: &GlobalSettings) -> Self {
        Self {
            max_retries: global.max_retries,
            base_delay: global.retry_delay,
            ..Self::default()
        }
    }

    /// Sets `max_retries`.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets `base_delay`.
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets `max_delay`.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets `factor`.
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Turns jitter on or off.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The backoff ceiling before retry `retry` (1-based): `min(max, base × factor^(retry-1))`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.base_delay.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        Duration::try_from_secs_f64(secs).map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// The delay before retry `retry` (1-based), jittered when `jitter` is on.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.backoff(retry);
        if self.jitter {
            ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
        } else {
            ceiling
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(500));
        let ms: Vec<u128> = (1..=5).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 500, 500]);
        assert_eq!(p.backoff(10_000), Duration::from_millis(500), "no overflow");
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_varies() {
        let p = RetryPolicy::default().with_base_delay(Duration::from_secs(1));
        let delays: Vec<Duration> = (0..50).map(|_| p.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(4)));
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter varies");
        assert_eq!(p.with_jitter(false).delay(3), Duration::from_secs(4));
    }
}
