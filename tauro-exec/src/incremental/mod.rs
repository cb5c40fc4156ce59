//! Incremental runs: manifest, fingerprints, run state, plans, selection, resume.
//!
//! - [`PipelineManifest`]: a pipeline compiled to nodes and edges, stored for every pipeline
//!   in `.tauro/manifest.json` (previous file kept as `manifest.prev.json`); [`ManifestDiff`]
//!   compares two.
//! - Fingerprints ([`FingerprintParts`]): SHA-256 over a node's own configuration and
//!   normalised SQL, the run parameters it uses, change markers of its input files and its
//!   upstream fingerprints.
//! - [`RunState`] (`.tauro/run_state.json`, versioned, atomic writes, backup) and
//!   [`StateWriter`], the [`crate::ProgressSink`] that keeps it up to date during a run.
//! - [`Planner`] decides RUN / CACHED / SKIP per node with a reason ([`Plan`]);
//!   [`SelectionSpec`] is `--nodes`, `--tags`, `--exclude-tags`, `--types`.
//! - [`AppendJournal`] (`.tauro/append_journal.json`): `append` outputs are written once
//!   per node run, even when the process dies between the write and the run state.
//! - [`SessionLedger`] (`.tauro/sessions/`): the Spark sessions of a run's node attempts, so
//!   that the next run ends the work a killed run left running on the server.
//! - [`IncrementalRun`] ties it together for the CLI (`exec`, `plan`, `resume`).

mod fingerprint;
mod journal;
mod manifest;
mod marker;
mod plan;
mod planner;
mod run;
mod run_state;
mod select;
mod sessions;
mod sql;
mod store;
mod writer;

pub use fingerprint::{Fingerprint, FingerprintParts};
pub use journal::{AppendDecision, AppendJournal};
pub use manifest::{
    EdgeRef, LoadedManifest, MANIFEST_VERSION, ManifestDiff, ManifestEdge, ManifestEdgeKind,
    ManifestNode, ModifiedNode, NodeKind, PipelineManifest, ProjectManifest,
};
pub use plan::{Plan, PlanAction, PlanCounts, PlanMode, PlanReason, PlannedNode};
pub use planner::Planner;
pub use run::IncrementalRun;
pub use run_state::{
    LastRun, LastRunStatus, LoadedState, NodeRunState, PipelineRunState, RUN_STATE_VERSION,
    RunState, StateWarning, StoredError, StoredWindow,
};
pub use select::SelectionSpec;
pub use sessions::SessionLedger;
pub use store::StateDir;
pub use writer::StateWriter;
