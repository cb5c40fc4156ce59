//! Retrying async calls with exponential backoff and jitter.
//!
//! Hand-written rather than `backon`: backon's only jitter adds a random part of the
//! minimum delay on top, with neither "full" nor "equal" jitter and no way to pass the
//! random source that makes [`RetryPolicy::delay`] testable; what is left is one loop. The
//! backoff ceiling is `tauro-exec`'s ([`tauro_exec::RetryPolicy::backoff`]), so node retries
//! and run retries grow the same way.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a retry delay is randomised, so that callers failing together do not retry together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The exact backoff.
    None,
    /// Uniform in `[0, backoff]`.
    #[default]
    Full,
    /// `backoff / 2` plus uniform in `[0, backoff / 2]`.
    Equal,
}

/// Attempts and delays of a retried call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (0 counts as 1).
    pub max_attempts: u32,
    /// Backoff after the first failed attempt.
    pub initial_delay: Duration,
    /// Upper bound of the backoff.
    pub max_delay: Duration,
    /// Growth per attempt (exponential base; values below 1 count as 1).
    pub multiplier: f64,
    /// Randomisation of each delay.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    /// 3 attempts, 1 s doubling up to 60 s, full jitter.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: Jitter::Full,
        }
    }
}

impl RetryPolicy {
    /// The backoff after failed attempt `attempt` (1-based) before jitter:
    /// `min(max_delay, initial_delay × multiplier^(attempt-1))`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        tauro_exec::RetryPolicy::default()
            .with_base_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(self.multiplier)
            .backoff(attempt)
    }

    /// The wait after failed attempt `attempt` (1-based), jittered with `rng`.
    pub fn delay<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let ceiling = self.backoff(attempt);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => ceiling.mul_f64(rng.random_range(0.0..=1.0)),
            Jitter::Equal => {
                let half = ceiling / 2;
                half + half.mul_f64(rng.random_range(0.0..=1.0))
            }
        }
    }

    /// Calls `f` until it succeeds, fails with an error `is_retryable` rejects, or
    /// `max_attempts` attempts have failed; returns the last result. Waits
    /// [`RetryPolicy::delay`] (tokio timer, thread RNG) between attempts.
    pub async fn retry<F, Fut, T, E>(
        &self,
        mut f: F,
        is_retryable: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let attempts = self.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(value) => return Ok(value),
                Err(e) if attempt >= attempts || !is_retryable(&e) => return Err(e),
                Err(_) => {
                    // The thread RNG is not `Send`: it lives only in this statement.
                    let wait = self.delay(attempt, &mut rand::rng());
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let p = policy(Jitter::None);
        let mut rng = StdRng::seed_from_u64(7);
        let ms: Vec<u128> = (1..=5).map(|a| p.delay(a, &mut rng).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 500, 500]);
        let triple = RetryPolicy {
            multiplier: 3.0,
            ..p
        };
        assert_eq!(triple.backoff(3), Duration::from_millis(500), "900 capped");
        assert_eq!(triple.backoff(2), Duration::from_millis(300));
    }

    #[test]
    fn full_and_equal_jitter_stay_in_their_ranges() {
        let mut rng = StdRng::seed_from_u64(42);
        let full: Vec<Duration> = (0..200)
            .map(|_| policy(Jitter::Full).delay(3, &mut rng))
            .collect();
        assert!(full.iter().all(|d| *d <= Duration::from_millis(400)));
        assert!(
            full.iter().any(|d| *d < Duration::from_millis(200)),
            "full reaches low"
        );
        let equal: Vec<Duration> = (0..200)
            .map(|_| policy(Jitter::Equal).delay(3, &mut rng))
            .collect();
        assert!(
            equal
                .iter()
                .all(|d| *d >= Duration::from_millis(200) && *d <= Duration::from_millis(400))
        );
        assert!(equal.iter().any(|d| *d != equal[0]), "equal varies");
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let p = policy(Jitter::Full);
        let a: Vec<Duration> = {
            let mut rng = StdRng::seed_from_u64(1);
            (1..=4).map(|n| p.delay(n, &mut rng)).collect()
        };
        let b: Vec<Duration> = {
            let mut rng = StdRng::seed_from_u64(1);
            (1..=4).map(|n| p.delay(n, &mut rng)).collect()
        };
        assert_eq!(a, b);
    }

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            multiplier: 2.0,
            jitter: Jitter::None,
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, String> = fast(5)
            .retry(
                || async {
                    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    if n < 3 {
                        Err(format!("attempt {n}"))
                    } else {
                        Ok(n)
                    }
                },
                |_| true,
            )
            .await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_with_the_last_error() {
        let calls = AtomicU32::new(0);
        let result: Result<(), u32> = fast(3)
            .retry(
                || async { Err(calls.fetch_add(1, Ordering::SeqCst) + 1) },
                |_| true,
            )
            .await;
        assert_eq!(result, Err(3));
    }

    #[tokio::test]
    async fn stops_at_an_error_that_is_not_retryable() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = fast(10)
            .retry(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("bad config")
                },
                |e| *e != "bad config",
            )
            .await;
        assert_eq!(result, Err("bad config"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
