//! Misfires: which fire times are due when the scheduler looks, after being late or down.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::ScheduleSpec;
use crate::store::MisfirePolicy;

/// How long after its fire time a tick still runs under [`MisfirePolicy::Skip`] by default:
/// 60 s, the misfire threshold Quartz uses. The scheduler polls every second, so an on-time
/// tick is never this late; a tick missed while the scheduler was down usually is.
pub const DEFAULT_SKIP_GRACE: Duration = Duration::from_secs(60);

/// Most missed ticks [`MisfirePolicy::CatchUp`] returns by default.
pub const DEFAULT_MAX_CATCH_UP: usize = 1_000;

/// The policy with its limits, for [`due_fires_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MisfireOptions {
    /// The policy.
    pub policy: MisfirePolicy,
    /// How late the latest tick may be and still run under [`MisfirePolicy::Skip`].
    pub skip_grace: Duration,
    /// Most ticks returned under [`MisfirePolicy::CatchUp`] (at least 1).
    pub max_catch_up: usize,
}

impl Default for MisfireOptions {
    fn default() -> Self {
        Self {
            policy: MisfirePolicy::RunOnce,
            skip_grace: DEFAULT_SKIP_GRACE,
            max_catch_up: DEFAULT_MAX_CATCH_UP,
        }
    }
}

/// The fire times due at `now` under `policy`, oldest first; see [`due_fires_with`].
/// `Skip` uses [`DEFAULT_SKIP_GRACE`].
pub fn due_fires(
    spec: &ScheduleSpec,
    last_fire: Option<DateTime<Utc>>,
    next_run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: MisfirePolicy,
    max_catch_up: usize,
) -> Vec<DateTime<Utc>> {
    due_fires_with(
        spec,
        last_fire,
        next_run_at,
        now,
        &MisfireOptions {
            policy,
            skip_grace: DEFAULT_SKIP_GRACE,
            max_catch_up,
        },
    )
}

/// The fire times due at `now`, oldest first.
///
/// The due ticks are `next_run_at` (the stored plan, kept even if the expression changed
/// since) and every tick of `spec` after it up to `now`, leaving out any at or before
/// `last_fire` (already fired). Of those, [`MisfirePolicy::Skip`] returns the latest if it
/// is at most `skip_grace` late, [`MisfirePolicy::RunOnce`] the latest, and
/// [`MisfirePolicy::CatchUp`] all of them (the latest `max_catch_up`: the work is bounded by
/// the cap, not by how long the scheduler was down).
///
/// Afterwards the caller stores [`next_run_after`]`(spec, now)` as the new `next_run_at`.
pub fn due_fires_with(
    spec: &ScheduleSpec,
    last_fire: Option<DateTime<Utc>>,
    next_run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    options: &MisfireOptions,
) -> Vec<DateTime<Utc>> {
    let cap = match options.policy {
        MisfirePolicy::Skip | MisfirePolicy::RunOnce => 1,
        MisfirePolicy::CatchUp => options.max_catch_up.max(1),
    };
    let fires = latest_due(spec, last_fire, next_run_at, now, cap);
    match options.policy {
        MisfirePolicy::Skip => {
            let grace = TimeDelta::from_std(options.skip_grace).unwrap_or(TimeDelta::MAX);
            fires.into_iter().filter(|f| now - *f <= grace).collect()
        }
        MisfirePolicy::RunOnce | MisfirePolicy::CatchUp => fires,
    }
}

/// The first fire time strictly after `now`: the `next_run_at` to store after a tick.
pub fn next_run_after(spec: &ScheduleSpec, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    spec.next_after(now)
}

/// The latest `cap` due ticks, oldest first, found walking back from `now`.
fn latest_due(
    spec: &ScheduleSpec,
    last_fire: Option<DateTime<Utc>>,
    next_run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    cap: usize,
) -> Vec<DateTime<Utc>> {
    let not_fired = |t: DateTime<Utc>| last_fire.is_none_or(|last| t > last);
    if next_run_at > now {
        return Vec::new();
    }
    let mut fires = Vec::new();
    let mut cursor = spec.last_at_or_before(now);
    while let Some(t) = cursor {
        if fires.len() >= cap || t <= next_run_at || !not_fired(t) {
            break;
        }
        fires.push(t);
        cursor = spec.prev_before(t);
    }
    if fires.len() < cap && not_fired(next_run_at) {
        fires.push(next_run_at);
    }
    fires.reverse();
    fires
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, h, m, 0).unwrap()
    }

    const NONE: [DateTime<Utc>; 0] = [];

    fn hourly() -> ScheduleSpec {
        ScheduleSpec::parse("cron", "0 * * * *", None).unwrap()
    }

    fn due(policy: MisfirePolicy, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        // Last fired at 09:00, then down from 09:30 until `now`: 10:00 was the plan.
        due_fires(&hourly(), Some(t(9, 0)), t(10, 0), now, policy, 1_000)
    }

    #[test]
    fn after_three_hours_down_each_policy_fires_as_documented() {
        let now = t(12, 30); // 10:00, 11:00 and 12:00 were missed
        assert_eq!(due(MisfirePolicy::Skip, now), NONE, "12:00 is 30 min late");
        assert_eq!(due(MisfirePolicy::RunOnce, now), [t(12, 0)]);
        assert_eq!(
            due(MisfirePolicy::CatchUp, now),
            [t(10, 0), t(11, 0), t(12, 0)]
        );
    }

    #[test]
    fn skip_runs_the_latest_tick_within_the_grace_window() {
        let just_back = t(12, 0) + TimeDelta::seconds(30);
        assert_eq!(due(MisfirePolicy::Skip, just_back), [t(12, 0)]);
        let options = MisfireOptions {
            policy: MisfirePolicy::Skip,
            skip_grace: Duration::from_secs(45 * 60),
            ..MisfireOptions::default()
        };
        let fires = due_fires_with(&hourly(), Some(t(9, 0)), t(10, 0), t(12, 30), &options);
        assert_eq!(fires, [t(12, 0)], "a 45-minute grace keeps 12:00");
    }

    #[test]
    fn an_on_time_tick_fires_under_every_policy() {
        for policy in [
            MisfirePolicy::Skip,
            MisfirePolicy::RunOnce,
            MisfirePolicy::CatchUp,
        ] {
            assert_eq!(due(policy, t(10, 0)), [t(10, 0)], "{policy}");
            assert_eq!(due(policy, t(9, 59)), NONE, "{policy}: not yet due");
        }
    }

    #[test]
    fn catch_up_keeps_the_latest_ticks_when_capped() {
        let fires = due_fires(
            &hourly(),
            None,
            t(0, 0),
            t(23, 30),
            MisfirePolicy::CatchUp,
            3,
        );
        assert_eq!(fires, [t(21, 0), t(22, 0), t(23, 0)]);
    }

    #[test]
    fn ticks_already_fired_are_not_returned_again() {
        // next_run_at was not moved after firing 10:00 and 11:00 (a crash mid-tick).
        let fires = due_fires(
            &hourly(),
            Some(t(11, 0)),
            t(10, 0),
            t(12, 5),
            MisfirePolicy::CatchUp,
            1_000,
        );
        assert_eq!(fires, [t(12, 0)]);
    }

    #[test]
    fn a_stale_plan_off_the_grid_still_fires() {
        // The expression changed from :30 to :00 after next_run_at was stored.
        let fires = due_fires(
            &hourly(),
            None,
            t(10, 30),
            t(12, 10),
            MisfirePolicy::CatchUp,
            10,
        );
        assert_eq!(fires, [t(10, 30), t(11, 0), t(12, 0)]);
    }

    #[test]
    fn interval_catch_up_and_next_run() {
        let spec = ScheduleSpec::parse("interval", "15m", None)
            .unwrap()
            .with_anchor(t(8, 0));
        let fires = due_fires(
            &spec,
            Some(t(9, 0)),
            t(9, 15),
            t(10, 0),
            MisfirePolicy::CatchUp,
            100,
        );
        assert_eq!(fires, [t(9, 15), t(9, 30), t(9, 45), t(10, 0)]);
        assert_eq!(next_run_after(&spec, t(10, 0)), Some(t(10, 15)));
    }
}
