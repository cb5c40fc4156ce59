//! Backfill windows: a date range cut into consecutive `(first day, last day)` windows.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// Most windows one backfill may have.
pub const MAX_BACKFILL_WINDOWS: usize = 100_000;

/// The length of one backfill window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillStep {
    /// One day.
    Day,
    /// Seven days.
    Week,
    /// One calendar month (from the start day to the day before the same day next month;
    /// days past the end of a shorter month are clamped to its last day).
    Month,
    /// A number of days (> 0).
    Days(u32),
}

impl BackfillStep {
    /// The `k`-th boundary after `base` (forward) or before it (`back`).
    fn shift(self, base: NaiveDate, k: u32, back: bool) -> Option<NaiveDate> {
        let days = |n: u32| {
            let d = Days::new(u64::from(n) * u64::from(k));
            if back {
                base.checked_sub_days(d)
            } else {
                base.checked_add_days(d)
            }
        };
        match self {
            Self::Day => days(1),
            Self::Week => days(7),
            Self::Days(n) => days(n),
            Self::Month if back => base.checked_sub_months(Months::new(k)),
            Self::Month => base.checked_add_months(Months::new(k)),
        }
    }

    fn check(self) -> Result<Self, ScheduleError> {
        match self {
            Self::Days(0) => Err(ScheduleError::InvalidBackfillStep {
                step: "0".to_string(),
            }),
            Self::Day | Self::Week | Self::Month | Self::Days(_) => Ok(self),
        }
    }
}

impl fmt::Display for BackfillStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Day => f.write_str("day"),
            Self::Week => f.write_str("week"),
            Self::Month => f.write_str("month"),
            Self::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl FromStr for BackfillStep {
    type Err = ScheduleError;

    /// `day`/`daily`, `week`/`weekly`, `month`/`monthly`, or days: `3`, `3d`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        let step = match text.as_str() {
            "day" | "daily" => Self::Day,
            "week" | "weekly" => Self::Week,
            "month" | "monthly" => Self::Month,
            other => {
                let digits = other.strip_suffix('d').unwrap_or(other);
                let n = digits
                    .parse::<u32>()
                    .map_err(|_| ScheduleError::InvalidBackfillStep {
                        step: s.to_string(),
                    })?;
                Self::Days(n)
            }
        };
        step.check()
            .map_err(|_| ScheduleError::InvalidBackfillStep {
                step: s.to_string(),
            })
    }
}

/// `from..=to` cut into windows of `step`, in order: each window is `(first, last)` with
/// both days included (the pipelines' `start_date`/`end_date`); the last one ends at `to`
/// and may be shorter. Boundaries are `from + k × step`, so months do not drift.
pub fn backfill_windows(
    from: NaiveDate,
    to: NaiveDate,
    step: BackfillStep,
) -> Result<Vec<(NaiveDate, NaiveDate)>, ScheduleError> {
    let step = step.check()?;
    if from > to {
        return Err(ScheduleError::BackfillRange { from, to });
    }
    let mut windows = Vec::new();
    let mut start = from;
    for k in 1u32.. {
        if windows.len() >= MAX_BACKFILL_WINDOWS {
            return Err(ScheduleError::TooManyWindows {
                limit: MAX_BACKFILL_WINDOWS,
            });
        }
        let next = step.shift(from, k, false);
        let end = next.and_then(|n| n.pred_opt()).map_or(to, |e| e.min(to));
        windows.push((start, end));
        match next {
            Some(n) if n <= to => start = n,
            _ => break,
        }
    }
    Ok(windows)
}

/// The `count` windows of `step` that end on `end` (the last one ends on `end`), in order.
/// Boundaries are counted back from the day after `end`, so `end` = the last day of a month
/// with [`BackfillStep::Month`] gives whole calendar months.
pub fn backfill_count(
    end: NaiveDate,
    count: usize,
    step: BackfillStep,
) -> Result<Vec<(NaiveDate, NaiveDate)>, ScheduleError> {
    let step = step.check()?;
    if count > MAX_BACKFILL_WINDOWS {
        return Err(ScheduleError::TooManyWindows {
            limit: MAX_BACKFILL_WINDOWS,
        });
    }
    let after = end.succ_opt().ok_or(ScheduleError::DateOutOfRange)?;
    let mut windows = Vec::with_capacity(count);
    let mut last = end;
    for k in 1..=count {
        let k = u32::try_from(k).map_err(|_| ScheduleError::DateOutOfRange)?;
        let first = step
            .shift(after, k, true)
            .ok_or(ScheduleError::DateOutOfRange)?;
        windows.push((first, last));
        last = first.pred_opt().ok_or(ScheduleError::DateOutOfRange)?;
    }
    windows.reverse();
    Ok(windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn w(pairs: &[(&str, &str)]) -> Vec<(NaiveDate, NaiveDate)> {
        pairs.iter().map(|(a, b)| (d(a), d(b))).collect()
    }

    #[test]
    fn daily_windows_cover_each_day() {
        let got = backfill_windows(d("2025-01-30"), d("2025-02-01"), BackfillStep::Day).unwrap();
        assert_eq!(
            got,
            w(&[
                ("2025-01-30", "2025-01-30"),
                ("2025-01-31", "2025-01-31"),
                ("2025-02-01", "2025-02-01")
            ])
        );
        let one = backfill_windows(d("2025-01-30"), d("2025-01-30"), BackfillStep::Week).unwrap();
        assert_eq!(one, w(&[("2025-01-30", "2025-01-30")]));
    }

    #[test]
    fn weekly_and_n_day_windows_end_on_the_last_day() {
        let got = backfill_windows(d("2025-01-01"), d("2025-01-20"), BackfillStep::Week).unwrap();
        assert_eq!(
            got,
            w(&[
                ("2025-01-01", "2025-01-07"),
                ("2025-01-08", "2025-01-14"),
                ("2025-01-15", "2025-01-20")
            ])
        );
        let got =
            backfill_windows(d("2025-01-01"), d("2025-01-06"), BackfillStep::Days(3)).unwrap();
        assert_eq!(
            got,
            w(&[("2025-01-01", "2025-01-03"), ("2025-01-04", "2025-01-06")])
        );
    }

    #[test]
    fn monthly_windows_follow_the_calendar_without_drift() {
        let got = backfill_windows(d("2024-01-01"), d("2024-03-31"), BackfillStep::Month).unwrap();
        assert_eq!(
            got,
            w(&[
                ("2024-01-01", "2024-01-31"),
                ("2024-02-01", "2024-02-29"),
                ("2024-03-01", "2024-03-31")
            ])
        );
        // From the 31st: February clamps, March is back on the 31st.
        let got = backfill_windows(d("2025-01-31"), d("2025-04-10"), BackfillStep::Month).unwrap();
        assert_eq!(
            got,
            w(&[
                ("2025-01-31", "2025-02-27"),
                ("2025-02-28", "2025-03-30"),
                ("2025-03-31", "2025-04-10")
            ])
        );
    }

    #[test]
    fn count_windows_end_on_the_given_day() {
        let got = backfill_count(d("2025-03-31"), 3, BackfillStep::Month).unwrap();
        assert_eq!(
            got,
            w(&[
                ("2025-01-01", "2025-01-31"),
                ("2025-02-01", "2025-02-28"),
                ("2025-03-01", "2025-03-31")
            ])
        );
        let got = backfill_count(d("2025-04-30"), 2, BackfillStep::Month).unwrap();
        assert_eq!(
            got,
            w(&[("2025-03-01", "2025-03-31"), ("2025-04-01", "2025-04-30")])
        );
        let got = backfill_count(d("2025-01-02"), 3, BackfillStep::Day).unwrap();
        assert_eq!(
            got,
            w(&[
                ("2024-12-31", "2024-12-31"),
                ("2025-01-01", "2025-01-01"),
                ("2025-01-02", "2025-01-02")
            ])
        );
        assert_eq!(
            backfill_count(d("2025-01-02"), 0, BackfillStep::Week).unwrap(),
            []
        );
    }

    #[test]
    fn bad_ranges_and_steps_are_errors() {
        assert!(matches!(
            backfill_windows(d("2025-02-01"), d("2025-01-01"), BackfillStep::Day),
            Err(ScheduleError::BackfillRange { .. })
        ));
        assert!(matches!(
            backfill_windows(d("2025-01-01"), d("2025-01-02"), BackfillStep::Days(0)),
            Err(ScheduleError::InvalidBackfillStep { .. })
        ));
        assert!(matches!(
            backfill_windows(d("1000-01-01"), d("2025-01-01"), BackfillStep::Day),
            Err(ScheduleError::TooManyWindows { .. })
        ));
    }

    #[test]
    fn steps_parse_from_text() {
        assert_eq!(
            "daily".parse::<BackfillStep>().ok(),
            Some(BackfillStep::Day)
        );
        assert_eq!(
            "Week".parse::<BackfillStep>().ok(),
            Some(BackfillStep::Week)
        );
        assert_eq!(
            "month".parse::<BackfillStep>().ok(),
            Some(BackfillStep::Month)
        );
        assert_eq!(
            "3d".parse::<BackfillStep>().ok(),
            Some(BackfillStep::Days(3))
        );
        assert_eq!(
            "10".parse::<BackfillStep>().ok(),
            Some(BackfillStep::Days(10))
        );
        for bad in ["0", "0d", "fortnight", "-1"] {
            assert!(bad.parse::<BackfillStep>().is_err(), "{bad}");
        }
        assert_eq!(
            BackfillStep::Days(3)
                .to_string()
                .parse::<BackfillStep>()
                .ok(),
            Some(BackfillStep::Days(3))
        );
    }
}
