//! Plans: for each node of a pipeline, RUN, CACHED or SKIP and why (decided by
//! [`super::Planner`]), with the diff against the previous manifest.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use tauro_config::DateWindow;

use super::fingerprint::Fingerprint;
use super::manifest::{ManifestDiff, NodeKind, PipelineManifest};
use crate::selection::NodeSelection;
use crate::state::NodeStatus;

/// How a plan was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Run what changed, failed or never ran, and what is downstream of those.
    Incremental,
    /// Run every selected node (`--full`).
    Full,
    /// Finish the last run: what failed, was skipped or cancelled, or never ran in it.
    Resume,
}

impl fmt::Display for PlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Incremental => "incremental",
            Self::Full => "full",
            Self::Resume => "resume",
        })
    }
}

/// What a run does with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    /// Execute it.
    Run,
    /// Keep its output from an earlier run.
    Cached,
    /// Leave it out (not selected): its output, if any, is read as it is.
    Skip,
}

impl PlanAction {
    /// `RUN`, `CACHED`, `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Run => "RUN",
            Self::Cached => "CACHED",
            Self::Skip => "SKIP",
        }
    }
}

impl fmt::Display for PlanAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a node got its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanReason {
    /// RUN: it never ran (no state).
    New,
    /// RUN: its own configuration or SQL changed.
    ConfigChanged,
    /// RUN: the date window it uses changed.
    WindowChanged,
    /// RUN: the hyperparameters or model version it uses changed (ML nodes).
    HyperparamsChanged,
    /// RUN: a local file it reads changed (size or modification time).
    InputsChanged,
    /// RUN: an upstream node runs, or changed since it last ran.
    UpstreamChanged,
    /// RUN: it failed in the last run that touched it.
    FailedLastTime,
    /// RUN: it was skipped or cancelled in the last run that touched it.
    DidNotComplete,
    /// RUN: a local path it writes is gone.
    OutputMissing,
    /// RUN: forced (`--full`).
    Selected,
    /// SKIP: outside the selection (or, for resume, not part of the last run).
    NotSelected,
    /// CACHED: nothing it depends on changed (resume: it completed in the last run).
    Unchanged,
}

impl PlanReason {
    /// `new`, `config changed`, ... (as shown in plans).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::ConfigChanged => "config changed",
            Self::WindowChanged => "window changed",
            Self::HyperparamsChanged => "hyperparameters changed",
            Self::InputsChanged => "input files changed",
            Self::UpstreamChanged => "upstream changed",
            Self::FailedLastTime => "failed last time",
            Self::DidNotComplete => "did not complete last time",
            Self::OutputMissing => "output missing",
            Self::Selected => "selected",
            Self::NotSelected => "not selected",
            Self::Unchanged => "unchanged",
        }
    }
}

impl fmt::Display for PlanReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedNode {
    /// The node.
    pub name: String,
    /// RUN, CACHED or SKIP.
    pub action: PlanAction,
    /// Why.
    pub reason: PlanReason,
    /// More about why, when there is more to say: `upstream 'clean' runs`, `2025-01-08..
    /// 2025-01-14 (was 2025-01-01..2025-01-07)`, the last error, the missing path, ...
    pub detail: Option<String>,
    /// SQL or function.
    pub kind: NodeKind,
    /// Its `type`.
    pub node_type: Option<String>,
    /// Its `tags`.
    pub tags: Vec<String>,
    /// The nodes it depends on.
    pub upstream: Vec<String>,
    /// Its fingerprint now.
    pub fingerprint: String,
    /// Its fingerprint in the last run that touched it.
    pub previous_fingerprint: Option<String>,
    /// Its status in the last run that touched it.
    pub last_status: Option<NodeStatus>,
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    /// Nodes in the pipeline.
    pub total: usize,
    /// RUN.
    pub run: usize,
    /// CACHED.
    pub cached: usize,
    /// SKIP.
    pub skip: usize,
}

/// What a run will do, node by node, and what changed since the last one.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The pipeline.
    pub pipeline: String,
    /// Incremental, full or resume.
    pub mode: PlanMode,
    /// The effective date window (given, else the global one; resume: the last run's).
    pub window: Option<DateWindow>,
    /// The selection flags, as given (`--nodes a --tags t`); empty for everything.
    pub selection: String,
    /// Every node of the pipeline, in execution order.
    pub nodes: Vec<PlannedNode>,
    /// Nodes in the run state that are no longer in the pipeline: a run drops them.
    pub dropped_from_state: Vec<String>,
    /// The diff against the previous manifest of the pipeline.
    pub diff: ManifestDiff,
    /// Things the user should know (unreadable state or manifest, a selected node whose
    /// unselected upstream never completed, ...).
    pub warnings: Vec<String>,
    /// Resume: the run being resumed.
    pub resumes_run: Option<String>,
    /// The run's ML overrides (resume: the resumed run's, unless new ones are given).
    #[serde(skip_serializing_if = "crate::ml::MlOverrides::is_empty")]
    pub ml: crate::ml::MlOverrides,
    #[serde(skip)]
    pub(crate) manifest: PipelineManifest,
    #[serde(skip)]
    pub(crate) prints: HashMap<String, Fingerprint>,
}

impl Plan {
    /// One node.
    pub fn node(&self, name: &str) -> Option<&PlannedNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Nodes with this action, in execution order.
    pub fn with_action(&self, action: PlanAction) -> impl Iterator<Item = &PlannedNode> {
        self.nodes.iter().filter(move |n| n.action == action)
    }

    /// Names of the nodes to run, in execution order.
    pub fn to_run(&self) -> Vec<String> {
        self.with_action(PlanAction::Run)
            .map(|n| n.name.clone())
            .collect()
    }

    /// The executor's selection for this plan: exactly the RUN nodes (dependencies on the
    /// others count as satisfied: their outputs are read as they are).
    pub fn node_selection(&self) -> NodeSelection {
        NodeSelection::Only(self.to_run())
    }

    /// True when some node runs (a run then needs the engine).
    pub fn needs_engine(&self) -> bool {
        self.nodes.iter().any(|n| n.action == PlanAction::Run)
    }

    /// Counts per action.
    pub fn counts(&self) -> PlanCounts {
        let count = |a| self.nodes.iter().filter(|n| n.action == a).count();
        PlanCounts {
            total: self.nodes.len(),
            run: count(PlanAction::Run),
            cached: count(PlanAction::Cached),
            skip: count(PlanAction::Skip),
        }
    }

    /// The compiled manifest of the pipeline (what a run stores).
    pub fn manifest(&self) -> &PipelineManifest {
        &self.manifest
    }
}
