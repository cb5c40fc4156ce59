//! [`ScheduleSpec`]: a parsed schedule (interval or cron) and its fire times.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ScheduleError;
use super::cron::CronSchedule;
use super::interval::{IntervalSchedule, parse_interval};
use crate::store::{Schedule, ScheduleKind};

#[derive(Debug, Clone)]
enum Rule {
    Interval(IntervalSchedule),
    /// Boxed: a parsed cron pattern is a few hundred bytes.
    Cron(Box<CronSchedule>),
}

/// When a schedule fires: a parsed interval or cron expression.
///
/// See the [module docs](super) for the expression syntax and the DST rules.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    expression: String,
    timezone: Tz,
    rule: Rule,
}

impl ScheduleSpec {
    /// Parses `expression` as a schedule of `kind` (`interval` or `cron`) in `timezone` (an
    /// IANA name such as `Europe/Madrid`; `None` or empty = UTC).
    ///
    /// Interval schedules are anchored at the Unix epoch until [`ScheduleSpec::with_anchor`]
    /// sets their anchor (normally the schedule's creation time); the time zone is checked
    /// but does not change them.
    pub fn parse(
        kind: &str,
        expression: &str,
        timezone: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let wanted = kind.trim().to_ascii_lowercase();
        let kind = ScheduleKind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| ScheduleError::UnknownKind {
                kind: kind.to_string(),
            })?;
        Self::new(kind, expression, timezone)
    }

    /// [`ScheduleSpec::parse`] with the kind already known.
    pub fn new(
        kind: ScheduleKind,
        expression: &str,
        timezone: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let tz = parse_timezone(timezone)?;
        let rule = match kind {
            ScheduleKind::Interval => Rule::Interval(IntervalSchedule {
                every_secs: parse_interval(expression)?,
                anchor: DateTime::UNIX_EPOCH,
            }),
            ScheduleKind::Cron => Rule::Cron(Box::new(CronSchedule::parse(expression, tz)?)),
        };
        Ok(Self {
            expression: expression.trim().to_string(),
            timezone: tz,
            rule,
        })
    }

    /// The spec of a stored schedule: its kind, expression and time zone, anchored at its
    /// creation time.
    pub fn from_schedule(schedule: &Schedule) -> Result<Self, ScheduleError> {
        Ok(Self::new(
            schedule.kind,
            &schedule.expression,
            Some(&schedule.timezone),
        )?
        .with_anchor(schedule.created_at))
    }

    /// Sets the anchor of an interval schedule: it fires at `anchor + k × interval` (k ≥ 0,
    /// only the ones after the time asked). No effect on cron schedules.
    pub fn with_anchor(mut self, anchor: DateTime<Utc>) -> Self {
        if let Rule::Interval(interval) = &mut self.rule {
            interval.anchor = anchor;
        }
        self
    }

    /// Interval or cron.
    pub fn kind(&self) -> ScheduleKind {
        match self.rule {
            Rule::Interval(_) => ScheduleKind::Interval,
            Rule::Cron(_) => ScheduleKind::Cron,
        }
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone (UTC unless given).
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The duration between fires of an interval schedule; `None` for cron.
    pub fn interval(&self) -> Option<Duration> {
        match &self.rule {
            Rule::Interval(i) => Some(Duration::from_secs(i.every_secs)),
            Rule::Cron(_) => None,
        }
    }

    /// The first fire time strictly after `t` (`None` when there is none, e.g. beyond the
    /// year 5000 or for a cron date that never exists such as `0 0 30 2 *`).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Interval(i) => i.next_after(t),
            Rule::Cron(c) => c.next_after(t),
        }
    }

    /// The last fire time at or before `t`.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Interval(i) => i.last_at_or_before(t),
            Rule::Cron(c) => c.last_at_or_before(t),
        }
    }

    /// The last fire time strictly before `t`.
    pub fn prev_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Interval(i) => i.prev_before(t),
            Rule::Cron(c) => c.prev_before(t),
        }
    }
}

/// An IANA time zone name; `None`, empty or `UTC` → UTC.
fn parse_timezone(timezone: Option<&str>) -> Result<Tz, ScheduleError> {
    let name = timezone.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| ScheduleError::UnknownTimezone {
            timezone: name.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, h, m, 0).unwrap()
    }

    #[test]
    fn interval_schedules_fire_on_their_anchor_grid() {
        let spec = ScheduleSpec::parse("interval", "1h30m", None)
            .unwrap()
            .with_anchor(t(8, 10));
        assert_eq!(spec.kind(), ScheduleKind::Interval);
        assert_eq!(spec.interval(), Some(Duration::from_secs(5_400)));
        let mut fires = Vec::new();
        let mut now = t(8, 10);
        for _ in 0..3 {
            now = spec.next_after(now).unwrap();
            fires.push(now);
        }
        assert_eq!(fires, [t(9, 40), t(11, 10), t(12, 40)]);
    }

    #[test]
    fn default_anchor_is_the_unix_epoch() {
        let hourly = ScheduleSpec::parse("interval", "1h", Some("")).unwrap();
        assert_eq!(hourly.next_after(t(10, 17)), Some(t(11, 0)));
    }

    #[test]
    fn intervals_ignore_dst() {
        // 01:00Z on 2025-03-30 is the Madrid spring-forward instant: a 1h interval still
        // fires every 3,600 s.
        let spec = ScheduleSpec::parse("interval", "3600", Some("Europe/Madrid")).unwrap();
        let before = Utc.with_ymd_and_hms(2025, 3, 30, 0, 30, 0).unwrap();
        let next = spec.next_after(before).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2025, 3, 30, 1, 0, 0).unwrap());
        assert_eq!(
            spec.next_after(next).unwrap() - next,
            chrono::TimeDelta::hours(1)
        );
        assert_eq!(spec.timezone(), chrono_tz::Europe::Madrid);
    }

    #[test]
    fn cron_schedules_read_the_time_zone() {
        let spec = ScheduleSpec::parse("CRON", " 0 9 * * * ", Some("Europe/Madrid")).unwrap();
        assert_eq!(spec.kind(), ScheduleKind::Cron);
        assert_eq!(spec.expression(), "0 9 * * *");
        // 09:00 CEST = 07:00Z.
        assert_eq!(spec.next_after(t(6, 0)), Some(t(7, 0)));
        assert_eq!(spec.last_at_or_before(t(7, 0)), Some(t(7, 0)));
        assert_eq!(spec.interval(), None);
    }

    #[test]
    fn unknown_kinds_and_time_zones_are_errors() {
        assert!(matches!(
            ScheduleSpec::parse("daily", "1d", None),
            Err(ScheduleError::UnknownKind { .. })
        ));
        assert!(matches!(
            ScheduleSpec::parse("cron", "0 9 * * *", Some("Mars/Olympus")),
            Err(ScheduleError::UnknownTimezone { .. })
        ));
        assert!(matches!(
            ScheduleSpec::parse("interval", "soon", None),
            Err(ScheduleError::InvalidInterval { .. })
        ));
    }

    #[test]
    fn impossible_cron_dates_have_no_next_fire() {
        let spec = ScheduleSpec::parse("cron", "0 0 30 2 *", None).unwrap();
        assert_eq!(spec.next_after(t(0, 0)), None);
    }
}
