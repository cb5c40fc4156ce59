//! When schedules fire: interval and cron expressions, misfires, jitter, backfill windows.
//!
//! Pure time arithmetic, no I/O: the scheduler loop asks [`due_fires`] which ticks to fire
//! and stores [`next_run_after`] as the schedule's next run.
//!
//! # Expressions
//! - **interval**: `30s`, `5m`, `1h`, `1d`, `1w`, `1h30m`, or a bare number of seconds
//!   (`90`). Fire times are `anchor + k × interval` ([`ScheduleSpec::with_anchor`], the
//!   schedule's creation time), exact durations in UTC: they never drift and ignore DST.
//! - **cron**: 5 fields (`minute hour day-of-month month day-of-week`) or 6 with seconds
//!   first; names (`MON`, `JAN`), ranges, lists and steps; `@yearly`, `@monthly`,
//!   `@weekly`, `@daily`, `@hourly`. Read in the schedule's IANA time zone (UTC by
//!   default). Day-of-month and day-of-week combine with OR, as in Vixie cron.
//!
//! Cron parsing and the search for occurrences are done by [`croner`], time zones by
//! [`chrono_tz`]: croner is maintained, reads exactly the POSIX/Vixie syntax above (plus
//! seconds), searches forwards and backwards over any `chrono` time zone, and defines its
//! DST behaviour (the rules below build on it); chrono-tz ships the IANA database compiled
//! in, so a schedule fires the same on every machine whatever its system zone files.
//!
//! # DST rules (cron schedules in zones with DST)
//! - **Spring forward (a local time that does not exist)**, croner's (Vixie cron's) rule:
//!   a *fixed* time (single second, minute and hour, e.g. `30 2 * * *`) fires at the first
//!   instant after the gap, the same day (02:30 in Europe/Madrid on 2025-03-30 fires at
//!   03:00 CEST); a time reached through a wildcard or step in those fields (`30 * * * *`)
//!   is skipped that night, since the pattern fires again within the hour.
//! - **Fall back (a local time that happens twice)**: each wall-clock time fires once, at
//!   its first occurrence (02:30 CEST on 2025-10-26 in Europe/Madrid; the 02:30 CET an hour
//!   later does not fire). This holds for every pattern, including `*/15 * * * *`, which
//!   therefore pauses during the repeated hour; croner alone would fire such patterns in
//!   both passes.
//! - Interval schedules are unaffected (exact UTC durations).
//!
//! # Misfires
//! The schedule's [`MisfirePolicy`](crate::store::MisfirePolicy) decides what runs after ticks were missed (scheduler down or late):
//! `skip` only a tick that is (nearly) on time, `run_once` the latest, `catch_up` all of
//! them up to a cap. See [`due_fires_with`].

mod backfill;
mod cron;
mod error;
mod interval;
mod jitter;
mod misfire;
mod spec;

pub use backfill::{BackfillStep, MAX_BACKFILL_WINDOWS, backfill_count, backfill_windows};
pub use error::ScheduleError;
pub use jitter::{jitter_delay, jittered};
pub use misfire::{
    DEFAULT_MAX_CATCH_UP, DEFAULT_SKIP_GRACE, MisfireOptions, due_fires, due_fires_with,
    next_run_after,
};
pub use spec::ScheduleSpec;
