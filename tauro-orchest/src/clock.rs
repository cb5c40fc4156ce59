//! Time as the scheduler and the circuit breakers see it.
//!
//! Everything in `tauro-orchest` that needs "now" or has to wait until a moment asks a
//! [`Clock`]: [`SystemClock`] in production, [`ManualClock`] in tests, where time moves only
//! when the test says so ([`ManualClock::set`], [`ManualClock::advance`]) and every
//! [`Clock::sleep_until`] whose moment has been reached wakes at once.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tauro_exec::BoxFuture;
use tokio::sync::watch;

/// A source of the current time that can also wait for a moment.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`Clock::now`] has reached `deadline` (at once when it has already).
    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'_, ()>;
}

/// The real wall clock; sleeps on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // A wall clock can jump (NTP, suspend): sleep, then look again.
            loop {
                let left = deadline - Utc::now();
                match left.to_std() {
                    Ok(d) if !d.is_zero() => tokio::time::sleep(d).await,
                    _ => return,
                }
            }
        })
    }
}

/// A clock that moves only when told: for tests.
///
/// Clones share the same time. Sleepers are woken through a `tokio::sync::watch` channel
/// each time the time changes.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tx, _rx) = watch::channel(start);
        Self { now: Arc::new(tx) }
    }

    /// Sets the time to `t` (it may go backwards) and wakes the sleepers it reaches.
    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    /// Moves the time forward by `by` and wakes the sleepers it reaches.
    ///
    /// A step beyond chrono's range leaves the clock at its latest representable time.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| {
            let step = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
            *now = now
                .checked_add_signed(step)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'_, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // Err only when every sender is gone: nobody can move the time any more.
            let _ = rx.wait_for(|now| *now >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(at(10, 0));
        assert_eq!(clock.now(), at(10, 0));
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), at(10, 1) + TimeDelta::seconds(30));
        clock.set(at(9, 0));
        assert_eq!(clock.clone().now(), at(9, 0), "clones share the time");
    }

    #[tokio::test]
    async fn sleepers_wake_when_the_time_passes() {
        let clock = Arc::new(ManualClock::new(at(10, 0)));
        let sleeper = {
            let clock = Arc::clone(&clock);
            tokio::spawn(async move { clock.sleep_until(at(10, 5)).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(60));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "10:01 is before the deadline");
        clock.advance(Duration::from_secs(240));
        let woke = tokio::time::timeout(Duration::from_secs(5), sleeper).await;
        assert!(matches!(woke, Ok(Ok(()))), "woke at 10:05");
        // A deadline in the past resolves at once.
        clock.sleep_until(at(9, 0)).await;
    }

    #[tokio::test]
    async fn system_clock_sleeps_until_the_deadline() {
        let clock = SystemClock;
        let deadline = clock.now() + TimeDelta::milliseconds(20);
        clock.sleep_until(deadline).await;
        assert!(clock.now() >= deadline);
    }
}
