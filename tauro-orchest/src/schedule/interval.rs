//! Interval schedules: a fixed duration, anchored so that fire times never drift.

use chrono::{DateTime, TimeDelta, Utc};

use super::ScheduleError;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Parses an interval expression into whole seconds.
///
/// Accepted: a bare number of seconds (`90`), or numbers with units `w`, `d`, `h`, `m`,
/// `s` (`30s`, `5m`, `1h`, `1d`, `1h30m`, `1d 12h`), each unit at most once, case-insensitive.
/// The result must be positive.
pub(crate) fn parse_interval(expression: &str) -> Result<u64, ScheduleError> {
    let invalid = |reason: &str| ScheduleError::InvalidInterval {
        expression: expression.to_string(),
        reason: reason.to_string(),
    };
    let text: String = expression
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    let total = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().map_err(|_| invalid("too large"))?
    } else {
        let mut total: u64 = 0;
        let mut seen = String::new();
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit: u64 = match c {
                'w' => 7 * 86_400,
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(invalid("units are w, d, h, m and s (e.g. 1h30m)")),
            };
            if digits.is_empty() {
                return Err(invalid("expected a number before each unit"));
            }
            if seen.contains(c) {
                return Err(invalid("a unit appears twice"));
            }
            seen.push(c);
            let n: u64 = digits.parse().map_err(|_| invalid("too large"))?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| invalid("too large"))?;
        }
        if !digits.is_empty() {
            return Err(invalid("a number without a unit after other units"));
        }
        total
    };
    if total == 0 {
        return Err(invalid("it must be longer than zero"));
    }
    // Representable as a chrono duration (±i64::MAX milliseconds).
    if i64::try_from(total)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .is_none()
    {
        return Err(invalid("too large"));
    }
    Ok(total)
}

/// Fire times `anchor + k × every` for `k ≥ 0`: exact durations in UTC, unaffected by time
/// zones and DST, and without drift (a late fire does not move the later ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntervalSchedule {
    /// Seconds between fires (> 0).
    pub(crate) every_secs: u64,
    /// The first fire time; later ones are whole multiples of `every_secs` after it.
    pub(crate) anchor: DateTime<Utc>,
}

impl IntervalSchedule {
    fn every_nanos(&self) -> i128 {
        i128::from(self.every_secs) * NANOS_PER_SEC
    }

    /// Nanoseconds from the anchor to `t` (negative before it).
    fn elapsed_nanos(&self, t: DateTime<Utc>) -> i128 {
        let d = t - self.anchor;
        i128::from(d.num_seconds()) * NANOS_PER_SEC + i128::from(d.subsec_nanos())
    }

    /// The `k`-th fire time (None beyond chrono's range).
    fn tick(&self, k: i128) -> Option<DateTime<Utc>> {
        let secs = k.checked_mul(i128::from(self.every_secs))?;
        let delta = TimeDelta::try_seconds(i64::try_from(secs).ok()?)?;
        self.anchor.checked_add_signed(delta)
    }

    /// The first fire time strictly after `t`.
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let elapsed = self.elapsed_nanos(t);
        if elapsed < 0 {
            return Some(self.anchor);
        }
        self.tick(elapsed / self.every_nanos() + 1)
    }

    /// The last fire time at or before `t`.
    pub(crate) fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let elapsed = self.elapsed_nanos(t);
        if elapsed < 0 {
            return None;
        }
        self.tick(elapsed / self.every_nanos())
    }

    /// The last fire time strictly before `t`.
    pub(crate) fn prev_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let elapsed = self.elapsed_nanos(t);
        if elapsed <= 0 {
            return None;
        }
        self.tick((elapsed - 1) / self.every_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parses_units_bare_seconds_and_combinations() {
        let cases = [
            ("30s", 30),
            ("5m", 300),
            ("1h", 3_600),
            ("1d", 86_400),
            ("1w", 604_800),
            ("90", 90),
            ("1h30m", 5_400),
            ("1d 12h", 129_600),
            (" 2H ", 7_200),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_interval(text).ok(), Some(secs), "{text}");
        }
    }

    #[test]
    fn rejects_empty_zero_unknown_units_and_overflow() {
        for bad in [
            "",
            "0",
            "0s",
            "5x",
            "h",
            "1h1h",
            "1h30",
            "-5m",
            "1.5h",
            "99999999999999999999",
        ] {
            let err = parse_interval(bad).err();
            assert!(
                matches!(err, Some(ScheduleError::InvalidInterval { .. })),
                "{bad:?} → {err:?}"
            );
        }
        assert!(
            parse_interval("1000000000000000w").is_err(),
            "beyond chrono's range"
        );
    }

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, h, m, s).unwrap()
    }

    #[test]
    fn fires_on_the_anchored_grid_without_drift() {
        let every_15m = IntervalSchedule {
            every_secs: 900,
            anchor: t(10, 7, 0),
        };
        assert_eq!(
            every_15m.next_after(t(9, 0, 0)),
            Some(t(10, 7, 0)),
            "before the anchor"
        );
        assert_eq!(
            every_15m.next_after(t(10, 7, 0)),
            Some(t(10, 22, 0)),
            "strictly after"
        );
        // A late observer still gets the grid, not "late time + interval".
        assert_eq!(every_15m.next_after(t(10, 30, 59)), Some(t(10, 37, 0)));
        assert_eq!(
            every_15m.last_at_or_before(t(10, 37, 0)),
            Some(t(10, 37, 0))
        );
        assert_eq!(
            every_15m.last_at_or_before(t(10, 36, 59)),
            Some(t(10, 22, 0))
        );
        assert_eq!(every_15m.prev_before(t(10, 37, 0)), Some(t(10, 22, 0)));
        assert_eq!(every_15m.prev_before(t(10, 7, 0)), None);
        assert_eq!(every_15m.last_at_or_before(t(10, 6, 0)), None);
    }

    #[test]
    fn sub_second_anchors_keep_their_fraction() {
        let anchor = t(0, 0, 0) + TimeDelta::milliseconds(250);
        let s = IntervalSchedule {
            every_secs: 1,
            anchor,
        };
        assert_eq!(
            s.next_after(t(0, 0, 5)),
            Some(anchor + TimeDelta::seconds(5))
        );
    }
}
