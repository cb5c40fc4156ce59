//! [`AppendJournal`]: `append` outputs written at most once per node run, across crashes.
//!
//! An `append` write cannot be undone or repeated safely: if the process dies after Spark
//! committed the write but before the run state recorded the node as completed, `resume`
//! runs the node again and the rows land twice. Spark's file sources have no idempotent
//! append (Delta's `txnAppId` is Delta only), and the client cannot delete files on the
//! server, so tauro keeps a write-ahead record instead, in `.tauro/append_journal.json`:
//!
//! 1. Before an `append` to a path, the runner lists the dataset's files (one `InputFiles`
//!    analysis) and records an *intent*: pipeline, node, output, run id, and those files.
//!    The record is on disk (atomic replace, fsync) before the write starts.
//! 2. The intent is *committed* when the run state records the node `completed` by the
//!    same run id ([`crate::StateWriter`]); nothing else has to be written.
//! 3. Before the next append to that output by that node, an intent that was never
//!    committed (the run died or the node failed after its write) is checked: files that
//!    are there now and were not before it are the earlier write, which landed. Then the
//!    write is skipped and the intent moves to the new run (keeping its files), so the
//!    node's completion in this run commits it; if no new file is there, the write never
//!    landed and runs normally.
//!
//! A committed intent (or none) means a normal append, so a node that is run again on
//! purpose (changed, `--full`, a new window) appends again. A write the killed client left
//! running on the server is ended before the next run's first node
//! ([`super::SessionLedger`]), so the files listed are final. Limit: a run state lost or
//! replaced by its backup can make an earlier, recorded write look uncommitted, and then a
//! changed node's append is skipped once (with a warning).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::run_state::RunState;
use super::store::{StateDir, read_optional, write_atomic};
use crate::error::{Error, Result};
use crate::state::NodeStatus;

/// Version of the journal file format.
const JOURNAL_VERSION: u32 = 1;
/// The journal's file name in the state directory.
const FILE: &str = "append_journal.json";

/// The whole journal: pipeline → node → output → intent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Journal {
    version: u32,
    #[serde(default)]
    intents: BTreeMap<String, BTreeMap<String, BTreeMap<String, Intent>>>,
}

/// One append a node is about to make (or made) to one output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Intent {
    /// The run that owns it; committed when the run state shows the node completed by it.
    run_id: String,
    /// When it was recorded.
    recorded_at: DateTime<Utc>,
    /// The dataset's files before the write.
    files_before: BTreeSet<String>,
}

/// What to do with an `append` write ([`AppendJournal::begin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendDecision {
    /// Write: the intent is recorded.
    Write,
    /// Do not write: an earlier, unrecorded attempt's write landed (these files).
    AlreadyWritten {
        /// The run whose write it was.
        run_id: String,
        /// Its files.
        files: Vec<String>,
    },
}

/// The write-ahead journal of `append` outputs (see the module docs).
#[derive(Debug, Clone)]
pub struct AppendJournal {
    dir: StateDir,
}

impl AppendJournal {
    /// The journal of the state directory `dir` (the one the run's [`crate::StateWriter`]
    /// writes to: its records commit the intents).
    pub fn new(dir: StateDir) -> Self {
        Self { dir }
    }

    /// Decides whether `node` of run `run_id` writes its append to `output`, whose files
    /// are `files_now`, and records the intent to write before returning
    /// [`AppendDecision::Write`]. Blocking (file lock and fsync).
    pub fn begin(
        &self,
        pipeline: &str,
        node: &str,
        output: &str,
        run_id: &str,
        files_now: Vec<String>,
    ) -> Result<AppendDecision> {
        let _lock = self.dir.lock()?;
        let path = self.dir.path().join(FILE);
        let mut journal = match read_optional(&path) {
            Ok(Some(bytes)) => serde_json::from_slice::<Journal>(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "append journal unreadable; starting a new one");
                Journal::default()
            }),
            Ok(None) => Journal::default(),
            Err(source) => {
                return Err(Error::StateFile {
                    path,
                    action: "read",
                    source,
                });
            }
        };
        let state = RunState::load(&self.dir).state;
        let committed = |run: &str| {
            state
                .pipeline(pipeline)
                .and_then(|p| p.nodes.get(node))
                .is_some_and(|n| n.status == NodeStatus::Completed && n.run_id == run)
        };
        let now: BTreeSet<String> = files_now.into_iter().collect();
        let slot = journal
            .intents
            .entry(pipeline.to_string())
            .or_default()
            .entry(node.to_string())
            .or_default();
        let decision = match slot.get(output) {
            Some(intent) if !committed(&intent.run_id) => {
                let landed: Vec<String> = now.difference(&intent.files_before).cloned().collect();
                if landed.is_empty() {
                    None
                } else {
                    Some(AppendDecision::AlreadyWritten {
                        run_id: intent.run_id.clone(),
                        files: landed,
                    })
                }
            }
            _ => None,
        };
        let files_before = match (&decision, slot.get(output)) {
            // Keep the files from before the landed write: it stays recognisable until a
            // run records the node completed.
            (Some(_), Some(intent)) => intent.files_before.clone(),
            _ => now,
        };
        slot.insert(
            output.to_string(),
            Intent {
                run_id: run_id.to_string(),
                recorded_at: Utc::now(),
                files_before,
            },
        );
        journal.version = JOURNAL_VERSION;
        let bytes = serde_json::to_vec_pretty(&journal).map_err(|e| Error::StateFile {
            path: path.clone(),
            action: "serialise",
            source: std::io::Error::other(e),
        })?;
        write_atomic(&path, &bytes, None)?;
        Ok(decision.unwrap_or(AppendDecision::Write))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::incremental::run_state::{NodeRunState, update};

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_string()).collect()
    }

    fn complete(dir: &StateDir, node: &str, run_id: &str) {
        update(dir, |s| {
            s.pipelines.entry("p".into()).or_default().nodes.insert(
                node.into(),
                NodeRunState {
                    expectations: Vec::new(),
                    status: NodeStatus::Completed,
                    fingerprint: "f".into(),
                    parts: None,
                    run_id: run_id.into(),
                    started_at: None,
                    finished_at: None,
                    duration_secs: None,
                    rows_written: None,
                    attempts: 1,
                    error: None,
                    reason: None,
                },
            );
        })
        .unwrap();
    }

    #[test]
    fn a_landed_unrecorded_write_is_not_repeated_and_a_recorded_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path());
        let j = AppendJournal::new(sd.clone());
        // Run 1 writes part-1, then dies before the run state records the node.
        assert_eq!(
            j.begin("p", "n", "o", "r1", files(&["part-0"])).unwrap(),
            AppendDecision::Write
        );
        // Run 2 (resume) finds part-1: the write landed; it is not made again.
        assert_eq!(
            j.begin("p", "n", "o", "r2", files(&["part-0", "part-1"]))
                .unwrap(),
            AppendDecision::AlreadyWritten {
                run_id: "r1".into(),
                files: files(&["part-1"])
            }
        );
        // Run 2 fails too (a later output); run 3 still recognises the write.
        assert!(matches!(
            j.begin("p", "n", "o", "r3", files(&["part-0", "part-1"]))
                .unwrap(),
            AppendDecision::AlreadyWritten { .. }
        ));
        // Run 3 completes the node: its next run appends again.
        complete(&sd, "n", "r3");
        assert_eq!(
            j.begin("p", "n", "o", "r4", files(&["part-0", "part-1"]))
                .unwrap(),
            AppendDecision::Write
        );
    }

    #[test]
    fn a_write_that_never_landed_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let j = AppendJournal::new(StateDir::new(dir.path()));
        j.begin("p", "n", "o", "r1", Vec::new()).unwrap();
        assert_eq!(
            j.begin("p", "n", "o", "r2", Vec::new()).unwrap(),
            AppendDecision::Write
        );
        // Other nodes and outputs are independent.
        assert_eq!(
            j.begin("p", "m", "o", "r2", files(&["x"])).unwrap(),
            AppendDecision::Write
        );
    }
}
