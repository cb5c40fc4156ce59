//! Run ids: `<UTC yyyymmddThhmmssZ>-<6 hex chars>`, e.g. `20250131T081500Z-3fa9c2`.
//!
//! They sort by start time (to the second) and name the lineage file of a run, so an id given
//! from outside ([`crate::Executor::with_run_id`]) must be a safe file name: see
//! [`is_valid_run_id`].

use chrono::{DateTime, Utc};
use rand::Rng;

/// The longest run id accepted.
const MAX_LEN: usize = 128;

/// A new run id for a run starting now.
pub fn new_run_id() -> String {
    run_id_at(Utc::now(), rand::rng().random::<u32>())
}

/// The run id of a run started at `at` with the random part `salt` (its low 24 bits).
pub(crate) fn run_id_at(at: DateTime<Utc>, salt: u32) -> String {
    format!("{}-{:06x}", at.format("%Y%m%dT%H%M%SZ"), salt & 0x00ff_ffff)
}

/// True when `id` can name a run (and its lineage file): 1 to 128 ASCII letters, digits,
/// `.`, `_` or `-`, not starting with `.` or `-`.
pub fn is_valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn run_ids_are_utc_second_stamps_with_six_hex_chars() {
        let at = Utc
            .with_ymd_and_hms(2025, 1, 31, 8, 15, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(run_id_at(at, 0xab_3fa9c2), "20250131T081500Z-3fa9c2");
        assert_eq!(run_id_at(at, 7), "20250131T081500Z-000007");
        let fresh = new_run_id();
        assert_eq!(fresh.len(), "20250131T081500Z-3fa9c2".len(), "{fresh}");
        assert!(is_valid_run_id(&fresh));
        assert_ne!(new_run_id(), new_run_id().replace('-', "_"));
    }

    #[test]
    fn only_safe_file_names_are_run_ids() {
        for ok in ["a", "20250131T081500Z-3fa9c2", "nightly_2025.01", "A-1"] {
            assert!(is_valid_run_id(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-x",
            "sp ace",
            "é",
            &"x".repeat(129),
        ] {
            assert!(!is_valid_run_id(bad), "{bad}");
        }
    }
}
