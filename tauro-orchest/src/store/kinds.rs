//! Small named enums of the store: backends, schedule kinds, misfire policies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Finds the variant of `all` whose name is `s` (case-insensitive).
fn parse_name<T: Copy>(
    what: &'static str,
    s: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T> {
    let wanted = s.trim().to_ascii_lowercase();
    all.iter()
        .copied()
        .find(|v| name(*v) == wanted)
        .ok_or_else(|| Error::UnknownValue {
            what,
            value: s.to_string(),
            expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

macro_rules! named {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl $ty {
            /// The value named `s` (case-insensitive).
            pub fn parse(s: &str) -> Result<Self> {
                parse_name($what, s, &Self::ALL, Self::as_str)
            }
        }
    };
}

/// Where the store keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// A SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL database (shared by many processes).
    Postgres,
}

impl Backend {
    /// Both backends.
    pub const ALL: [Backend; 2] = [Self::Sqlite, Self::Postgres];

    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

named!(Backend, "store backend");

/// How a schedule's expression reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// A fixed period (`30s`, `1h`).
    Interval,
    /// A cron expression.
    Cron,
}

impl ScheduleKind {
    /// Both kinds.
    pub const ALL: [ScheduleKind; 2] = [Self::Interval, Self::Cron];

    /// `interval` or `cron`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interval => "interval",
            Self::Cron => "cron",
        }
    }
}

named!(ScheduleKind, "schedule kind");

/// What a scheduler does with the ticks it missed (it was down, or late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// Drop missed ticks (a tick only a little late still fires).
    Skip,
    /// Fire once for all the missed ticks.
    RunOnce,
    /// Fire every missed tick, in order.
    CatchUp,
}

impl MisfirePolicy {
    /// Every policy.
    pub const ALL: [MisfirePolicy; 3] = [Self::Skip, Self::RunOnce, Self::CatchUp];

    /// `skip`, `run_once` or `catch_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::RunOnce => "run_once",
            Self::CatchUp => "catch_up",
        }
    }
}

named!(MisfirePolicy, "misfire policy");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for p in MisfirePolicy::ALL {
            assert_eq!(MisfirePolicy::parse(p.as_str()).ok(), Some(p));
            assert_eq!(serde_json::to_string(&p).ok(), Some(format!("\"{p}\"")));
        }
        for k in ScheduleKind::ALL {
            assert_eq!(k.as_str().parse::<ScheduleKind>().ok(), Some(k));
            assert_eq!(serde_json::to_string(&k).ok(), Some(format!("\"{k}\"")));
        }
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.as_str()).ok(), Some(b));
            assert_eq!(serde_json::to_string(&b).ok(), Some(format!("\"{b}\"")));
        }
        assert_eq!(ScheduleKind::parse("CRON").ok(), Some(ScheduleKind::Cron));
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let err = MisfirePolicy::parse("later").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown misfire policy 'later' (expected one of: skip, run_once, catch_up)")
        );
    }
}
