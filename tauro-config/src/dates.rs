//! Run dates: strict `YYYY-MM-DD` parsing and inclusive windows.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::model::DateWindow;

/// Parses a strict `YYYY-MM-DD` calendar date (`2025-02-30` and `2025-1-5` are errors).
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    let invalid = || Error::InvalidDate {
        value: s.to_owned(),
    };
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(invalid());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| invalid())
}

impl DateWindow {
    /// A window from `start` to `end` inclusive; `end` before `start` is an error.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<DateWindow> {
        if end < start {
            return Err(Error::InvalidWindow { start, end });
        }
        Ok(DateWindow { start, end })
    }

    /// A window of one day.
    pub fn single(day: NaiveDate) -> DateWindow {
        DateWindow {
            start: day,
            end: day,
        }
    }

    /// Number of days in the window (at least 1).
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }
}

/// The window for a run: explicit dates first, then the global `start_date`/`end_date`.
/// A missing end defaults to the start. `None` when no start is known at all.
pub(crate) fn window_for(
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    default_start: Option<NaiveDate>,
    default_end: Option<NaiveDate>,
) -> Result<Option<DateWindow>> {
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s),
        (None, Some(e)) => match default_start {
            Some(s) => (s, e),
            None => return Err(Error::MissingStart { end: e }),
        },
        (None, None) => match (default_start, default_end) {
            (Some(s), e) => (s, e.unwrap_or(s)),
            (None, Some(e)) => return Err(Error::MissingStart { end: e }),
            (None, None) => return Ok(None),
        },
    };
    DateWindow::new(start, end).map(Some)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn strict_dates() {
        assert_eq!(
            d("2025-01-31"),
            NaiveDate::from_ymd_opt(2025, 1, 31).unwrap()
        );
        for bad in [
            "2025-02-30",
            "2025-1-5",
            "20250101",
            "2025/01/01",
            " 2025-01-01",
            "",
        ] {
            let err = parse_date(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid date '{bad}': expected YYYY-MM-DD")
            );
        }
    }

    #[test]
    fn windows() {
        assert_eq!(
            DateWindow::new(d("2025-01-01"), d("2025-01-07"))
                .unwrap()
                .days(),
            7
        );
        let err = DateWindow::new(d("2025-01-07"), d("2025-01-01")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "end date 2025-01-01 is before start date 2025-01-07"
        );
    }

    #[test]
    fn window_fallbacks() {
        let (gs, ge) = (Some(d("2025-01-01")), Some(d("2025-01-07")));
        let w = |s, e, ds, de| window_for(s, e, ds, de);
        assert_eq!(w(None, None, None, None).unwrap(), None);
        assert_eq!(w(None, None, gs, ge).unwrap().unwrap().days(), 7);
        assert_eq!(w(None, None, gs, None).unwrap().unwrap().days(), 1);
        assert_eq!(
            w(Some(d("2025-02-01")), None, gs, ge).unwrap().unwrap(),
            DateWindow::single(d("2025-02-01"))
        );
        assert_eq!(
            w(None, Some(d("2025-01-03")), gs, ge)
                .unwrap()
                .unwrap()
                .days(),
            3
        );
        assert!(matches!(
            w(None, Some(d("2025-01-03")), None, None),
            Err(Error::MissingStart { .. })
        ));
        assert!(matches!(
            w(Some(d("2025-01-03")), Some(d("2025-01-02")), None, None),
            Err(Error::InvalidWindow { .. })
        ));
    }
}
