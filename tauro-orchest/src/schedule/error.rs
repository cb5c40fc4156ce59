//! Errors of schedule expressions, misfire policies and backfill ranges.

use chrono::NaiveDate;

/// A schedule, misfire policy or backfill range that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The schedule kind is neither `interval` nor `cron`.
    #[error("unknown schedule kind '{kind}': expected 'interval' or 'cron'")]
    UnknownKind {
        /// The kind given.
        kind: String,
    },
    /// An interval expression that does not parse or is not positive.
    #[error("invalid interval '{expression}': {reason}")]
    InvalidInterval {
        /// The expression given.
        expression: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A cron expression that does not parse.
    #[error("invalid cron expression '{expression}'")]
    InvalidCron {
        /// The expression given.
        expression: String,
        /// What the cron parser said.
        #[source]
        source: croner::errors::CronError,
    },
    /// A time zone that is not an IANA name.
    #[error(
        "unknown time zone '{timezone}': expected an IANA name such as 'Europe/Madrid' or 'UTC'"
    )]
    UnknownTimezone {
        /// The time zone given.
        timezone: String,
    },
    /// A backfill range whose start is after its end.
    #[error("backfill range starts after it ends: {from} > {to}")]
    BackfillRange {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// A backfill step that is not `day`, `week`, `month` or a positive number of days.
    #[error(
        "invalid backfill step '{step}': expected 'day', 'week', 'month' or a number of days > 0"
    )]
    InvalidBackfillStep {
        /// The step given.
        step: String,
    },
    /// A backfill with more windows than [`super::MAX_BACKFILL_WINDOWS`].
    #[error("backfill has more than {limit} windows: use a larger step or a shorter range")]
    TooManyWindows {
        /// The limit.
        limit: usize,
    },
    /// A backfill window that falls outside the dates chrono can represent.
    #[error("backfill window out of the representable date range")]
    DateOutOfRange,
}
