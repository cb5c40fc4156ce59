//! Cron schedules in a time zone, with the DST rules of [`super`].

use chrono::{DateTime, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::ScheduleError;

/// Most later-pass candidates skipped in one search (a fall-back overlap of one hour holds
/// at most 3,600 per-second fires).
const MAX_SKIPS: usize = 100_000;

/// A parsed cron expression evaluated in a time zone.
#[derive(Debug, Clone)]
pub(crate) struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    /// Parses 5 fields (minute first) or 6 (second first), names (`MON`, `JAN`), ranges,
    /// steps and the `@hourly`-style nicknames; no year field.
    pub(crate) fn parse(expression: &str, tz: Tz) -> Result<Self, ScheduleError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expression.trim())
            .map_err(|source| ScheduleError::InvalidCron {
                expression: expression.to_string(),
                source,
            })?;
        Ok(Self { cron, tz })
    }

    /// True when `t` is the second pass of a wall-clock time that a fall-back repeats.
    fn is_repeat(&self, t: &DateTime<Tz>) -> bool {
        match self.tz.from_local_datetime(&t.naive_local()) {
            LocalResult::Ambiguous(earlier, _) => *t != earlier,
            LocalResult::Single(_) | LocalResult::None => false,
        }
    }

    /// Searches from `t` with `step` (a croner search from a zoned time), skipping
    /// repeated wall-clock times.
    fn search(
        &self,
        t: DateTime<Utc>,
        step: impl Fn(&Cron, &DateTime<Tz>) -> Option<DateTime<Tz>>,
    ) -> Option<DateTime<Utc>> {
        let mut cursor = t.with_timezone(&self.tz);
        for _ in 0..MAX_SKIPS {
            let found = step(&self.cron, &cursor)?;
            if !self.is_repeat(&found) {
                return Some(found.with_timezone(&Utc));
            }
            cursor = found;
        }
        None
    }

    /// The first fire time strictly after `t`.
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.search(t, |c, from| c.find_next_occurrence(from, false).ok())
    }

    /// The last fire time strictly before `t`.
    pub(crate) fn prev_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.search(t, |c, from| c.find_previous_occurrence(from, false).ok())
    }

    /// The last fire time at or before `t`.
    pub(crate) fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let zoned = t.with_timezone(&self.tz);
        match self.cron.find_previous_occurrence(&zoned, true) {
            Ok(found) if found == zoned && !self.is_repeat(&found) => Some(t),
            _ => self.prev_before(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cron(expr: &str, tz: &str) -> CronSchedule {
        CronSchedule::parse(expr, tz.parse().unwrap()).unwrap()
    }

    /// The next `n` fire times after `from`, as RFC 3339 UTC strings.
    fn next_n(c: &CronSchedule, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = utc(from);
        for _ in 0..n {
            t = c.next_after(t).unwrap();
            out.push(t.to_rfc3339());
        }
        out
    }

    /// The same fire times found walking backwards from `to`, in forward order.
    fn prev_n(c: &CronSchedule, to: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = utc(to);
        for _ in 0..n {
            t = c.prev_before(t).unwrap();
            out.push(t.to_rfc3339());
        }
        out.reverse();
        out
    }

    #[test]
    fn utc_fields_names_ranges_steps_and_nicknames() {
        let weekdays = cron("0 9 * * MON-FRI", "UTC");
        // 2025-06-06 is a Friday.
        assert_eq!(
            next_n(&weekdays, "2025-06-06T09:00:00Z", 2),
            ["2025-06-09T09:00:00+00:00", "2025-06-10T09:00:00+00:00"]
        );
        let quarter = cron("*/15 8-9 1 JAN,jul *", "UTC");
        assert_eq!(
            next_n(&quarter, "2025-06-30T23:00:00Z", 3),
            [
                "2025-07-01T08:00:00+00:00",
                "2025-07-01T08:15:00+00:00",
                "2025-07-01T08:30:00+00:00"
            ]
        );
        assert_eq!(
            next_n(&cron("@hourly", "UTC"), "2025-06-01T10:00:00Z", 1),
            ["2025-06-01T11:00:00+00:00"],
            "strictly after a fire time"
        );
        assert_eq!(
            next_n(&cron("@daily", "UTC"), "2025-06-01T10:00:00Z", 1),
            ["2025-06-02T00:00:00+00:00"]
        );
    }

    #[test]
    fn six_fields_put_seconds_first() {
        let every_10s = cron("*/10 * * * * *", "UTC");
        assert_eq!(
            next_n(&every_10s, "2025-06-01T10:00:05Z", 3),
            [
                "2025-06-01T10:00:10+00:00",
                "2025-06-01T10:00:20+00:00",
                "2025-06-01T10:00:30+00:00"
            ]
        );
        let at_30s = cron("30 0 12 * * *", "UTC");
        assert_eq!(
            next_n(&at_30s, "2025-06-01T10:00:00Z", 1),
            ["2025-06-01T12:00:30+00:00"]
        );
    }

    #[test]
    fn bad_expressions_are_rejected() {
        let utc: Tz = "UTC".parse().unwrap();
        for bad in [
            "",
            "* * * *",
            "0 0 1 1 * 2030",
            "61 * * * *",
            "* * * * FOO",
            "@sometimes",
        ] {
            assert!(
                matches!(
                    CronSchedule::parse(bad, utc),
                    Err(ScheduleError::InvalidCron { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn madrid_spring_gap_moves_a_fixed_time_to_the_end_of_the_gap() {
        // 2025-03-30: 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30 does not exist.
        let c = cron("30 2 * * *", "Europe/Madrid");
        let fires = [
            "2025-03-29T01:30:00+00:00", // 02:30 CET
            "2025-03-30T01:00:00+00:00", // 03:00 CEST, the first instant after the gap
            "2025-03-31T00:30:00+00:00", // 02:30 CEST
        ];
        assert_eq!(next_n(&c, "2025-03-28T12:00:00Z", 3), fires);
        assert_eq!(
            prev_n(&c, "2025-03-31T12:00:00Z", 3),
            fires,
            "same backwards"
        );
    }

    #[test]
    fn madrid_spring_gap_skips_wildcard_hour_times() {
        // Every hour at :30: 02:30 local does not exist that night and is skipped.
        let c = cron("30 * * * *", "Europe/Madrid");
        assert_eq!(
            next_n(&c, "2025-03-30T00:00:00Z", 2),
            [
                "2025-03-30T00:30:00+00:00", // 01:30 CET
                "2025-03-30T01:30:00+00:00", // 03:30 CEST
            ]
        );
    }

    #[test]
    fn madrid_fall_back_fires_a_repeated_time_once() {
        // 2025-10-26: 03:00 CEST falls back to 02:00 CET (01:00Z); 02:30 happens twice.
        let c = cron("30 2 * * *", "Europe/Madrid");
        let fires = [
            "2025-10-25T00:30:00+00:00", // 02:30 CEST
            "2025-10-26T00:30:00+00:00", // 02:30 CEST, first pass only
            "2025-10-27T01:30:00+00:00", // 02:30 CET
        ];
        assert_eq!(next_n(&c, "2025-10-24T12:00:00Z", 3), fires);
        assert_eq!(
            prev_n(&c, "2025-10-27T12:00:00Z", 3),
            fires,
            "same backwards"
        );
        // Standing at the second 02:30 (01:30Z), the last fire is the first pass.
        assert_eq!(
            c.last_at_or_before(utc("2025-10-26T01:30:00Z")),
            Some(utc("2025-10-26T00:30:00Z"))
        );
    }

    #[test]
    fn madrid_fall_back_fires_each_wall_time_once_for_hourly_patterns() {
        let c = cron("30 * * * *", "Europe/Madrid");
        let fires = [
            "2025-10-25T23:30:00+00:00", // 01:30 CEST
            "2025-10-26T00:30:00+00:00", // 02:30 CEST
            "2025-10-26T02:30:00+00:00", // 03:30 CET (02:30 CET at 01:30Z is a repeat)
        ];
        assert_eq!(next_n(&c, "2025-10-25T23:00:00Z", 3), fires);
        assert_eq!(
            prev_n(&c, "2025-10-26T03:00:00Z", 3),
            fires,
            "same backwards"
        );
    }

    #[test]
    fn new_york_2025_dst_changes() {
        // Spring: 2025-03-09 02:00 EST jumps to 03:00 EDT (07:00Z).
        let c = cron("30 2 * * *", "America/New_York");
        assert_eq!(
            next_n(&c, "2025-03-08T00:00:00Z", 3),
            [
                "2025-03-08T07:30:00+00:00", // 02:30 EST
                "2025-03-09T07:00:00+00:00", // 03:00 EDT
                "2025-03-10T06:30:00+00:00", // 02:30 EDT
            ]
        );
        // Fall: 2025-11-02 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let c = cron("30 1 * * *", "America/New_York");
        assert_eq!(
            next_n(&c, "2025-11-01T12:00:00Z", 3),
            [
                "2025-11-02T05:30:00+00:00", // 01:30 EDT, first pass only
                "2025-11-03T06:30:00+00:00", // 01:30 EST
                "2025-11-04T06:30:00+00:00",
            ]
        );
    }

    #[test]
    fn last_at_or_before_includes_an_exact_fire_time() {
        let c = cron("0 * * * *", "UTC");
        let t = utc("2025-06-01T10:00:00Z");
        assert_eq!(c.last_at_or_before(t), Some(t));
        assert_eq!(c.prev_before(t), Some(utc("2025-06-01T09:00:00Z")));
    }
}
