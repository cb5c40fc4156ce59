//! The states of runs and task runs, and which changes between them are legal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The state of a pipeline run or a task run.
///
/// ```text
/// pending  → queued | running | cancelled | skipped
/// queued   → running | cancelled | skipped
/// running  → success | failed | cancelled | retrying
/// retrying → queued | running | failed | cancelled
/// failed   → queued            (re-queued by a retry policy or by hand)
/// success, cancelled, skipped: final
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Created, not yet queued or started.
    Pending,
    /// Waiting for a free runner.
    Queued,
    /// Executing.
    Running,
    /// Finished successfully.
    Success,
    /// Finished with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Not executed (nothing to do).
    Skipped,
    /// An attempt failed; another one follows.
    Retrying,
}

impl RunState {
    /// Every state, in lifecycle order.
    pub const ALL: [RunState; 8] = [
        Self::Pending,
        Self::Queued,
        Self::Running,
        Self::Retrying,
        Self::Success,
        Self::Failed,
        Self::Cancelled,
        Self::Skipped,
    ];

    /// The states a run is still active in (it holds or waits for a runner).
    pub const ACTIVE: [RunState; 4] = [Self::Pending, Self::Queued, Self::Running, Self::Retrying];

    /// The final states: success, failed, cancelled, skipped.
    pub const TERMINAL: [RunState; 4] =
        [Self::Success, Self::Failed, Self::Cancelled, Self::Skipped];

    /// The stored name: `pending`, `queued`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Retrying => "retrying",
        }
    }

    /// The state named `s` (case-insensitive, surrounding blanks ignored).
    pub fn parse(s: &str) -> Result<Self> {
        let name = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| Error::UnknownValue {
                what: "run state",
                value: s.to_string(),
                expected: Self::ALL.map(Self::as_str).join(", "),
            })
    }

    /// True for success, failed, cancelled and skipped. A failed run may still be
    /// re-queued ([`RunState::can_become`]).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failed | Self::Cancelled | Self::Skipped
        )
    }

    /// True when a run in this state may change to `to`. A state never "becomes" itself.
    pub fn can_become(self, to: RunState) -> bool {
        self.next_states().contains(&to)
    }

    /// The states this one may change to.
    pub fn next_states(self) -> &'static [RunState] {
        use RunState::*;
        match self {
            Pending => &[Queued, Running, Cancelled, Skipped],
            Queued => &[Running, Cancelled, Skipped],
            Running => &[Success, Failed, Cancelled, Retrying],
            Retrying => &[Queued, Running, Failed, Cancelled],
            Failed => &[Queued],
            Success | Cancelled | Skipped => &[],
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in RunState::ALL {
            assert_eq!(RunState::parse(state.as_str()).ok(), Some(state));
            let json = serde_json::to_string(&state).ok();
            assert_eq!(json, Some(format!("\"{state}\"")));
        }
        assert_eq!(RunState::parse(" Running ").ok(), Some(RunState::Running));
        let err = RunState::parse("done").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown run state 'done' (expected one of: pending, queued, running, retrying, \
                 success, failed, cancelled, skipped)"
            )
        );
    }

    #[test]
    fn the_transition_table_is_the_documented_one() {
        use RunState::*;
        let legal: Vec<(RunState, RunState)> = RunState::ALL
            .into_iter()
            .flat_map(|from| RunState::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Pending, Queued),
                (Pending, Running),
                (Pending, Cancelled),
                (Pending, Skipped),
                (Queued, Running),
                (Queued, Cancelled),
                (Queued, Skipped),
                (Running, Retrying),
                (Running, Success),
                (Running, Failed),
                (Running, Cancelled),
                (Retrying, Queued),
                (Retrying, Running),
                (Retrying, Failed),
                (Retrying, Cancelled),
                (Failed, Queued),
            ]
        );
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<RunState> = RunState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, RunState::TERMINAL.to_vec());
        assert!(RunState::ACTIVE.iter().all(|s| !s.is_terminal()));
    }
}
