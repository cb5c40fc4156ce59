//! `.tauro/run_state.json`: per pipeline, what its last run was and, per node, what the last
//! run that touched it did (status, fingerprint, times, rows, error, attempts, run id).
//!
//! Loading never fails: a corrupt or unreadable file (or one written by a newer tauro) is
//! reported as a [`StateWarning`] (and logged) and the backup `run_state.json.bak` is used
//! when it is valid, else an empty state (every node then runs). Writes go through
//! [`update`]: lock, re-read, change, replace atomically, keeping the previous good file as
//! the backup.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tauro_config::DateWindow;

use super::fingerprint::FingerprintParts;
use super::plan::PlanMode;
use super::store::{StateDir, read_optional, write_atomic};
use crate::error::{Error, Result};
use crate::state::NodeStatus;

/// Version of the run state file format.
pub const RUN_STATE_VERSION: u32 = 1;

/// The whole run state of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// [`RUN_STATE_VERSION`].
    pub state_version: u32,
    /// When the file was last written.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Per pipeline.
    #[serde(default)]
    pub pipelines: BTreeMap<String, PipelineRunState>,
}

impl Default for RunState {
    fn default() -> Self {
        Self {
            state_version: RUN_STATE_VERSION,
            updated_at: None,
            pipelines: BTreeMap::new(),
        }
    }
}

/// The run state of one pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineRunState {
    /// The last run (started by an incremental, full or resume run).
    #[serde(default)]
    pub last_run: Option<LastRun>,
    /// Per node.
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeRunState>,
}

/// How a recorded run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastRunStatus {
    /// Started and not finished: still running, or the process died.
    Running,
    /// Every node it ran completed.
    Succeeded,
    /// A node failed, or the run could not start.
    Failed,
    /// Cancelled (Ctrl-C).
    Cancelled,
}

impl fmt::Display for LastRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        })
    }
}

/// A date window as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWindow {
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

impl From<DateWindow> for StoredWindow {
    fn from(w: DateWindow) -> Self {
        Self {
            start: w.start,
            end: w.end,
        }
    }
}

impl From<StoredWindow> for DateWindow {
    fn from(w: StoredWindow) -> Self {
        Self {
            start: w.start,
            end: w.end,
        }
    }
}

impl fmt::Display for StoredWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// The last run of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    /// Its id.
    pub run_id: String,
    /// Incremental, full or resume.
    pub mode: PlanMode,
    /// How it ended (`running` if it never recorded its end).
    pub status: LastRunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Its date window.
    #[serde(default)]
    pub window: Option<StoredWindow>,
    /// The nodes it was to run (not the cached ones), in execution order.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Why it could not run, when it failed before any node did.
    #[serde(default)]
    pub error: Option<String>,
    /// Its ML overrides (`--param`, `--hyperparams`, `--model-version`); resume reuses them.
    #[serde(default, skip_serializing_if = "crate::ml::MlOverrides::is_empty")]
    pub ml: crate::ml::MlOverrides,
}

/// A node's error as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredError {
    /// Message with causes.
    pub message: String,
    /// Error class (`PATH_NOT_FOUND`, `TIMEOUT`, ...).
    pub class: String,
}

/// What the last run that touched a node did to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRunState {
    /// Results of its data quality expectations in that run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<crate::expect::ExpectationResult>,
    /// Final status in that run (`completed`, `failed`, `skipped`, `cancelled`).
    pub status: NodeStatus,
    /// Its fingerprint in that run. A node is cached only when this equals its current
    /// fingerprint *and* `status` is `completed`.
    pub fingerprint: String,
    /// The parts of the fingerprint, to tell why it changed.
    #[serde(default)]
    pub parts: Option<FingerprintParts>,
    /// The run.
    pub run_id: String,
    /// When its first attempt started.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached its final status.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// From the start of its first attempt to the end of its last.
    #[serde(default)]
    pub duration_secs: Option<f64>,
    /// Rows written, when reported.
    #[serde(default)]
    pub rows_written: Option<u64>,
    /// Attempts started.
    #[serde(default)]
    pub attempts: u32,
    /// The last error (failed nodes).
    #[serde(default)]
    pub error: Option<StoredError>,
    /// Why it did not run (skipped or cancelled nodes).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A problem with the run state file that did not stop anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateWarning {
    /// The file.
    pub path: PathBuf,
    /// What was wrong and what was done instead.
    pub message: String,
}

impl fmt::Display for StateWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// A run state as loaded, with what was wrong with the files.
#[derive(Debug, Clone, Default)]
pub struct LoadedState {
    /// The state (empty when nothing valid was found).
    pub state: RunState,
    /// Problems found (each also logged).
    pub warnings: Vec<StateWarning>,
}

/// Where a loaded state came from.
enum Source {
    Main,
    Backup,
    Empty,
}

impl RunState {
    /// Loads `.tauro/run_state.json` (see the module docs). Never fails.
    pub fn load(dir: &StateDir) -> LoadedState {
        let (state, warnings, _) = load_with_source(dir);
        for w in &warnings {
            tracing::warn!("{w}");
        }
        LoadedState { state, warnings }
    }

    /// The state of one pipeline.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineRunState> {
        self.pipelines.get(name)
    }
}

fn parse(bytes: &[u8]) -> std::result::Result<RunState, String> {
    let state: RunState = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if state.state_version > RUN_STATE_VERSION {
        return Err(format!(
            "it has state_version {}, newer than this tauro's {RUN_STATE_VERSION}",
            state.state_version
        ));
    }
    Ok(state)
}

fn load_with_source(dir: &StateDir) -> (RunState, Vec<StateWarning>, Source) {
    let path = dir.run_state();
    let problem = match read_optional(&path) {
        Ok(None) => return (RunState::default(), Vec::new(), Source::Empty),
        Ok(Some(bytes)) => match parse(&bytes) {
            Ok(state) => return (state, Vec::new(), Source::Main),
            Err(e) => format!("the run state is corrupt ({e})"),
        },
        Err(e) => format!("the run state cannot be read ({e})"),
    };
    let backup = dir.run_state_backup();
    let fallback = match read_optional(&backup) {
        Ok(Some(bytes)) => parse(&bytes).ok(),
        _ => None,
    };
    match fallback {
        Some(state) => {
            let message = format!(
                "{problem}; using the backup {} instead (the last node results may be missing, \
                 so those nodes run again)",
                backup.display()
            );
            (state, vec![StateWarning { path, message }], Source::Backup)
        }
        None => {
            let message = format!(
                "{problem}; no valid backup either, so starting from an empty state \
                 (every node runs)"
            );
            (
                RunState::default(),
                vec![StateWarning { path, message }],
                Source::Empty,
            )
        }
    }
}

/// Changes the run state on disk: takes the lock, re-reads the file (so concurrent runs of
/// other pipelines keep their updates), applies `change`, and replaces the file atomically.
/// The previous file becomes the backup only when it was valid.
pub(crate) fn update(dir: &StateDir, change: impl FnOnce(&mut RunState)) -> Result<()> {
    let _lock = dir.lock()?;
    let (mut state, warnings, source) = load_with_source(dir);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    change(&mut state);
    state.state_version = RUN_STATE_VERSION;
    state.updated_at = Some(Utc::now());
    let bytes = serde_json::to_vec_pretty(&state).map_err(|e| Error::StateFile {
        path: dir.run_state(),
        action: "serialise",
        source: std::io::Error::other(e),
    })?;
    let backup = dir.run_state_backup();
    let keep = matches!(source, Source::Main).then_some(backup.as_path());
    write_atomic(&dir.run_state(), &bytes, keep)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn node(status: NodeStatus) -> NodeRunState {
        NodeRunState {
            status,
            fingerprint: "f".into(),
            parts: None,
            run_id: "r1".into(),
            started_at: None,
            finished_at: None,
            duration_secs: Some(1.5),
            rows_written: Some(3),
            attempts: 1,
            error: None,
            reason: None,
            expectations: Vec::new(),
        }
    }

    fn put(dir: &StateDir, pipeline: &str, name: &str, status: NodeStatus) {
        update(dir, |s| {
            s.pipelines
                .entry(pipeline.into())
                .or_default()
                .nodes
                .insert(name.into(), node(status));
        })
        .unwrap();
    }

    #[test]
    fn missing_file_is_an_empty_state_without_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = RunState::load(&StateDir::new(dir.path()));
        assert_eq!(loaded.state, RunState::default());
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn updates_merge_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        put(&sd, "p", "a", NodeStatus::Completed);
        put(&sd, "q", "x", NodeStatus::Failed);
        let state = RunState::load(&sd).state;
        assert_eq!(state.state_version, RUN_STATE_VERSION);
        assert_eq!(
            state.pipeline("p").unwrap().nodes["a"],
            node(NodeStatus::Completed)
        );
        assert_eq!(
            state.pipeline("q").unwrap().nodes["x"].status,
            NodeStatus::Failed
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sd.run_state()).unwrap()).unwrap();
        assert_eq!(json["pipelines"]["p"]["nodes"]["a"]["status"], "completed");
        assert_eq!(json["state_version"], 1);
    }

    #[test]
    fn a_corrupt_file_falls_back_to_the_backup_then_to_empty() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        put(&sd, "p", "a", NodeStatus::Completed);
        put(&sd, "p", "b", NodeStatus::Completed); // the backup now has `a` only
        std::fs::write(sd.run_state(), b"{\"state_version\": 1, \"pipelines\": {").unwrap();
        let loaded = RunState::load(&sd);
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0].message.contains("corrupt")
                && loaded.warnings[0].message.contains("backup"),
            "{}",
            loaded.warnings[0]
        );
        let nodes = &loaded.state.pipeline("p").unwrap().nodes;
        assert!(nodes.contains_key("a") && !nodes.contains_key("b"));
        // Writing over a corrupt file does not replace the good backup with it.
        put(&sd, "p", "c", NodeStatus::Completed);
        let backup = parse(&std::fs::read(sd.run_state_backup()).unwrap()).unwrap();
        assert!(backup.pipeline("p").unwrap().nodes.contains_key("a"));
        let state = RunState::load(&sd).state;
        assert!(state.pipeline("p").unwrap().nodes.contains_key("c"));
        // Both corrupt: empty, with a warning.
        std::fs::write(sd.run_state(), b"garbage").unwrap();
        std::fs::write(sd.run_state_backup(), b"garbage").unwrap();
        let loaded = RunState::load(&sd);
        assert_eq!(loaded.state, RunState::default());
        assert!(loaded.warnings[0].message.contains("empty state"));
    }

    #[test]
    fn a_newer_version_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        std::fs::write(sd.run_state(), br#"{"state_version": 99, "pipelines": {}}"#).unwrap();
        let loaded = RunState::load(&sd);
        assert!(loaded.warnings[0].message.contains("newer"));
    }
}
