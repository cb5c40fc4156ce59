//! A circuit breaker: stops calling something that keeps failing, and tries again later.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{CircuitError, CircuitOpen};
use crate::clock::{Clock, SystemClock};

/// Where a breaker is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through; consecutive failures are counted.
    #[default]
    Closed,
    /// Trial calls go through (a few at a time); they decide between closed and open.
    HalfOpen,
    /// Calls are refused until the open timeout has passed.
    Open,
}

impl CircuitState {
    /// `closed`, `half_open` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
        }
    }

    /// The Prometheus gauge value: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Thresholds of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open a closed breaker (at least 1).
    pub failure_threshold: u32,
    /// Successful trial calls that close a half-open breaker (at least 1).
    pub success_threshold: u32,
    /// How long an open breaker refuses calls before it lets trials through.
    pub open_timeout: Duration,
    /// Trial calls a half-open breaker lets run at once (at least 1).
    pub half_open_max_calls: u32,
}

impl Default for CircuitBreakerConfig {
    /// 5 failures open, 2 successes close, 60 s open, 3 trial calls.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 2,
            open_timeout: Duration::from_secs(60),
            half_open_max_calls: 3,
        }
    }
}

/// Counters of a breaker, for metrics and health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CircuitStats {
    /// Current state.
    pub state: CircuitState,
    /// Consecutive failures while closed.
    pub consecutive_failures: u32,
    /// Calls let through.
    pub total_calls: u64,
    /// Calls that succeeded.
    pub successful_calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Calls refused.
    pub rejected_calls: u64,
    /// When the last failure was recorded.
    pub last_failure_at: Option<DateTime<Utc>>,
    /// When the state last changed.
    pub last_state_change: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    /// Bumped at every state change: outcomes of calls admitted in an older state only
    /// count in the statistics.
    generation: u64,
    opened_at: DateTime<Utc>,
    half_open_in_flight: u32,
    half_open_successes: u32,
    stats: CircuitStats,
}

/// A thread-safe circuit breaker.
///
/// - **Closed**: calls go through; `failure_threshold` consecutive failures open it (a
///   success resets the count).
/// - **Open**: calls are refused with [`CircuitOpen`] until `open_timeout` has passed since
///   it opened; then it is half-open (checked lazily, by the next call or [`Self::state`]).
/// - **Half-open**: at most `half_open_max_calls` trial calls at once; `success_threshold`
///   successes close it, any failure opens it again.
///
/// Outcomes of calls admitted before a state change do not move the new state.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    name: Arc<str>,
    config: CircuitBreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Arc<Mutex<Inner>>,
}

/// Permission to make one call through a breaker: report its outcome with
/// [`CircuitPermit::success`] or [`CircuitPermit::failure`]. Dropped without either (the
/// call was cancelled), it frees its trial slot and records nothing.
#[derive(Debug)]
#[must_use = "report the outcome with success() or failure()"]
pub struct CircuitPermit {
    breaker: CircuitBreaker,
    generation: u64,
    trial: bool,
    done: bool,
}

impl CircuitPermit {
    /// The call succeeded.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(self.generation, self.trial, true);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(self.generation, self.trial, false);
    }
}

impl Drop for CircuitPermit {
    fn drop(&mut self) {
        if !self.done && self.trial {
            let mut inner = self.breaker.lock();
            if inner.generation == self.generation {
                inner.half_open_in_flight = inner.half_open_in_flight.saturating_sub(1);
            }
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name` on the system clock.
    pub fn new(name: impl Into<String>, config: CircuitBreakerConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now();
        Self {
            name: Arc::from(name.into()),
            config,
            clock,
            inner: Arc::new(Mutex::new(Inner {
                state: CircuitState::Closed,
                generation: 0,
                opened_at: now,
                half_open_in_flight: 0,
                half_open_successes: 0,
                stats: CircuitStats::default(),
            })),
        }
    }

    /// Reads time from `clock` (tests use a [`crate::clock::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The thresholds.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent even if a holder panicked: every update is one step.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open_timeout(&self) -> TimeDelta {
        TimeDelta::from_std(self.config.open_timeout).unwrap_or(TimeDelta::MAX)
    }

    fn transition(&self, inner: &mut Inner, to: CircuitState, now: DateTime<Utc>) {
        inner.state = to;
        inner.generation += 1;
        inner.half_open_in_flight = 0;
        inner.half_open_successes = 0;
        inner.stats.consecutive_failures = 0;
        inner.stats.last_state_change = Some(now);
        if to == CircuitState::Open {
            inner.opened_at = now;
        }
    }

    /// Moves an open breaker whose timeout has passed to half-open.
    fn refresh(&self, inner: &mut Inner, now: DateTime<Utc>) {
        if inner.state == CircuitState::Open
            && now.signed_duration_since(inner.opened_at) >= self.open_timeout()
        {
            self.transition(inner, CircuitState::HalfOpen, now);
        }
    }

    /// The current state (an open breaker whose timeout has passed reports half-open).
    pub fn state(&self) -> CircuitState {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.refresh(&mut inner, now);
        inner.state
    }

    /// The counters.
    pub fn stats(&self) -> CircuitStats {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.refresh(&mut inner, now);
        CircuitStats {
            state: inner.state,
            ..inner.stats.clone()
        }
    }

    /// Asks to make a call: a [`CircuitPermit`] to report its outcome on, or [`CircuitOpen`].
    pub fn try_acquire(&self) -> Result<CircuitPermit, CircuitOpen> {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.refresh(&mut inner, now);
        let trial = match inner.state {
            CircuitState::Closed => false,
            CircuitState::HalfOpen
                if inner.half_open_in_flight < self.config.half_open_max_calls.max(1) =>
            {
                inner.half_open_in_flight += 1;
                true
            }
            CircuitState::HalfOpen | CircuitState::Open => {
                inner.stats.rejected_calls += 1;
                let reopen = inner.opened_at + self.open_timeout();
                return Err(CircuitOpen {
                    name: self.name.to_string(),
                    retry_after: (reopen - now).to_std().unwrap_or(Duration::ZERO),
                });
            }
        };
        inner.stats.total_calls += 1;
        Ok(CircuitPermit {
            breaker: self.clone(),
            generation: inner.generation,
            trial,
            done: false,
        })
    }

    fn record(&self, generation: u64, trial: bool, success: bool) {
        let now = self.clock.now();
        let mut inner = self.lock();
        if success {
            inner.stats.successful_calls += 1;
        } else {
            inner.stats.failed_calls += 1;
            inner.stats.last_failure_at = Some(now);
        }
        if inner.generation != generation {
            return;
        }
        match (inner.state, success) {
            (CircuitState::Closed, true) => inner.stats.consecutive_failures = 0,
            (CircuitState::Closed, false) => {
                inner.stats.consecutive_failures += 1;
                if inner.stats.consecutive_failures >= self.config.failure_threshold.max(1) {
                    self.transition(&mut inner, CircuitState::Open, now);
                }
            }
            (CircuitState::HalfOpen, true) => {
                if trial {
                    inner.half_open_in_flight = inner.half_open_in_flight.saturating_sub(1);
                }
                inner.half_open_successes += 1;
                if inner.half_open_successes >= self.config.success_threshold.max(1) {
                    self.transition(&mut inner, CircuitState::Closed, now);
                }
            }
            (CircuitState::HalfOpen, false) => self.transition(&mut inner, CircuitState::Open, now),
            // A permit is only issued closed or half-open, and a state change bumps the
            // generation: an open breaker never sees an outcome of its own generation.
            (CircuitState::Open, _) => {}
        }
    }

    /// Runs `f` if the breaker allows it; an `Err` from `f` counts as a failure.
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, CircuitError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        match f().await {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(e) => {
                permit.failure();
                Err(CircuitError::Failed(e))
            }
        }
    }

    /// Closes the breaker and clears its failure count (the call counters stay).
    pub fn reset(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.transition(&mut inner, CircuitState::Closed, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;

    fn setup(config: CircuitBreakerConfig) -> (CircuitBreaker, ManualClock) {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
        let breaker = CircuitBreaker::new("spark", config).with_clock(Arc::new(clock.clone()));
        (breaker, clock)
    }

    fn config() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            failure_threshold: 3,
            success_threshold: 2,
            open_timeout: Duration::from_secs(30),
            half_open_max_calls: 2,
        }
    }

    fn fail(b: &CircuitBreaker) {
        b.try_acquire().unwrap().failure();
    }

    fn succeed(b: &CircuitBreaker) {
        b.try_acquire().unwrap().success();
    }

    #[test]
    fn consecutive_failures_open_and_a_success_resets_the_count() {
        let (b, _) = setup(config());
        fail(&b);
        fail(&b);
        succeed(&b);
        fail(&b);
        fail(&b);
        assert_eq!(
            b.state(),
            CircuitState::Closed,
            "the success reset the count"
        );
        fail(&b);
        assert_eq!(b.state(), CircuitState::Open);
        let refused = b.try_acquire().err().unwrap();
        assert_eq!(refused.name, "spark");
        assert_eq!(refused.retry_after, Duration::from_secs(30));
        assert_eq!(b.stats().rejected_calls, 1);
    }

    #[test]
    fn open_becomes_half_open_after_the_timeout_and_successes_close_it() {
        let (b, clock) = setup(config());
        (0..3).for_each(|_| fail(&b));
        clock.advance(Duration::from_secs(29));
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(
            b.try_acquire().err().map(|e| e.retry_after),
            Some(Duration::from_secs(1))
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        // Two trial calls at once; a third is refused.
        let first = b.try_acquire().unwrap();
        let second = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err(), "half_open_max_calls = 2");
        first.success();
        assert_eq!(b.state(), CircuitState::HalfOpen, "one success of two");
        second.success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn a_failed_trial_reopens_the_breaker() {
        let (b, clock) = setup(config());
        (0..3).for_each(|_| fail(&b));
        clock.advance(Duration::from_secs(30));
        succeed(&b);
        fail(&b);
        assert_eq!(b.state(), CircuitState::Open);
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.state(), CircuitState::Open, "the timeout restarted");
    }

    #[test]
    fn a_dropped_trial_permit_frees_its_slot() {
        let (b, clock) = setup(config());
        (0..3).for_each(|_| fail(&b));
        clock.advance(Duration::from_secs(30));
        let a = b.try_acquire().unwrap();
        let c = b.try_acquire().unwrap();
        drop(a);
        let d = b.try_acquire().unwrap();
        c.success();
        d.success();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn late_outcomes_from_before_a_state_change_do_not_move_the_state() {
        let (b, clock) = setup(config());
        let slow = b.try_acquire().unwrap(); // admitted while closed
        (0..3).for_each(|_| fail(&b));
        clock.advance(Duration::from_secs(30));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        slow.failure();
        assert_eq!(
            b.state(),
            CircuitState::HalfOpen,
            "the stale failure is only counted"
        );
        assert_eq!(b.stats().failed_calls, 4);
    }

    #[tokio::test]
    async fn call_wraps_a_future_and_refuses_when_open() {
        let (b, _) = setup(CircuitBreakerConfig {
            failure_threshold: 1,
            ..config()
        });
        let ok: Result<u8, CircuitError<&str>> = b.call(|| async { Ok(7) }).await;
        assert_eq!(ok.ok(), Some(7));
        let failed = b.call(|| async { Err::<u8, _>("boom") }).await;
        assert!(matches!(failed, Err(CircuitError::Failed("boom"))));
        let refused = b.call(|| async { Ok::<u8, &str>(1) }).await;
        assert!(matches!(refused, Err(CircuitError::Open(_))));
        let stats = b.stats();
        assert_eq!(
            (
                stats.total_calls,
                stats.successful_calls,
                stats.failed_calls,
                stats.rejected_calls
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(stats.state, CircuitState::Open);
        b.reset();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn gauge_values_follow_the_prometheus_convention() {
        assert_eq!(
            [
                CircuitState::Closed,
                CircuitState::HalfOpen,
                CircuitState::Open
            ]
            .map(CircuitState::gauge),
            [0, 1, 2]
        );
    }
}
