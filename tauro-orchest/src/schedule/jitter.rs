//! Deterministic jitter: spreads the start of scheduled runs without coordination.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// The delay of the run fired at `fire` by schedule `key`: between 0 and `jitter_secs`
/// seconds (millisecond steps; none when `jitter_secs` is not a finite number ≥ 1 ms), derived from
/// a SHA-256 of the key and the fire time.
///
/// Every scheduler computes the same delay for the same tick, so they agree on when a
/// jittered run starts; ticks of one schedule, and schedules firing together, get different
/// delays. SHA-256 rather than `std`'s hasher because its output is fixed across Rust
/// versions and processes (the crate already uses `sha2` for run fingerprints).
pub fn jitter_delay(fire: DateTime<Utc>, jitter_secs: f64, key: &str) -> Duration {
    let Some(max_ms) = Duration::try_from_secs_f64(jitter_secs)
        .ok()
        .map(|d| d.as_millis())
        .filter(|ms| *ms > 0)
    else {
        return Duration::ZERO;
    };
    let mut hash = Sha256::new();
    hash.update(key.as_bytes());
    hash.update([0]);
    hash.update(fire.timestamp().to_be_bytes());
    hash.update(fire.timestamp_subsec_nanos().to_be_bytes());
    let digest = hash.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let ms = u128::from(u64::from_be_bytes(head)) % (max_ms + 1);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// `fire` delayed by [`jitter_delay`]: when the run of that tick should start.
pub fn jittered(fire: DateTime<Utc>, jitter_secs: f64, key: &str) -> DateTime<Utc> {
    TimeDelta::from_std(jitter_delay(fire, jitter_secs, key))
        .ok()
        .and_then(|d| fire.checked_add_signed(d))
        .unwrap_or(fire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fire(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn the_same_tick_gets_the_same_delay_everywhere() {
        let a = jittered(fire(10), 300.0, "nightly");
        let b = jittered(fire(10), 300.0, "nightly");
        assert_eq!(a, b);
        assert!(a >= fire(10) && a <= fire(10) + TimeDelta::seconds(300));
    }

    #[test]
    fn delays_differ_between_ticks_and_schedules_and_stay_in_range() {
        let delays: Vec<Duration> = (0..24).map(|h| jitter_delay(fire(h), 60.0, "s1")).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(60)));
        assert!(delays.iter().any(|d| *d != delays[0]), "ticks spread");
        let per_key: Vec<Duration> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| jitter_delay(fire(3), 60.0, k))
            .collect();
        assert!(per_key.iter().any(|d| *d != per_key[0]), "schedules spread");
    }

    #[test]
    fn zero_negative_or_nan_jitter_is_no_delay() {
        for secs in [0.0, -5.0, f64::NAN, f64::INFINITY, 0.0001] {
            assert_eq!(jittered(fire(1), secs, "x"), fire(1), "{secs}");
        }
        assert!(jitter_delay(fire(1), 0.5, "x") <= Duration::from_millis(500));
    }

    #[test]
    fn the_delay_is_a_fixed_function_of_its_inputs() {
        // Pinned: a change here would make schedulers of different versions disagree.
        let pinned = jitter_delay(fire(0), 3_600.0, "pinned");
        assert_eq!(pinned, PINNED);
    }

    const PINNED: Duration = Duration::from_millis(3_507_424);
}
