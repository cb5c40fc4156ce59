//! The result of a pipeline run, serialisable for `--output json`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::lineage::NodeLineage;
use crate::ml::MlRunInfo;
use crate::runner::WrittenOutput;
use crate::state::NodeStatus;
use indexmap::IndexMap;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every selected node completed.
    Succeeded,
    /// A node failed, or the circuit breaker opened.
    Failed,
    /// The run was cancelled from outside (Ctrl-C).
    Cancelled,
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        })
    }
}

/// Why a run stopped before running everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// A node failed and `continue_on_error` is off.
    NodeFailed {
        /// The first node that failed.
        node: String,
    },
    /// Too many node attempts failed in a row.
    CircuitBreakerOpen {
        /// `circuit_breaker_threshold`.
        threshold: u32,
        /// The node whose failure opened it.
        node: String,
    },
    /// Cancelled from outside.
    Cancelled,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NodeFailed { node } => write!(f, "node '{node}' failed"),
            Self::CircuitBreakerOpen { threshold, node } => write!(
                f,
                "the circuit breaker opened after {threshold} consecutive failed node attempts \
                 (last: '{node}'); the remaining nodes were cancelled"
            ),
            Self::Cancelled => f.write_str("the run was cancelled"),
        }
    }
}

/// A node's failure, ready to render: message with causes, class, hint.
#[derive(Debug, Clone, Serialize)]
pub struct NodeError {
    /// The error and its causes, joined with `: `.
    pub message: String,
    /// Spark's error class (`PATH_NOT_FOUND`, ...) or this crate's (`TIMEOUT`, ...).
    pub class: String,
    /// How to fix it, where known.
    pub hint: Option<String>,
    /// The error itself, for renderers that print each cause on its own line.
    #[serde(skip)]
    pub error: Arc<Error>,
}

impl From<Error> for NodeError {
    fn from(error: Error) -> Self {
        Self {
            message: crate::error::error_chain(&error, false),
            class: error.error_class(),
            hint: error.hint(),
            error: Arc::new(error),
        }
    }
}

/// What happened to one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeResult {
    /// The node.
    pub name: String,
    /// Its final status.
    pub status: NodeStatus,
    /// Attempts started.
    pub attempts: u32,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When its last attempt ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// From the start of its first attempt to the end of its last.
    #[serde(rename = "duration_secs", serialize_with = "secs_opt")]
    pub duration: Option<Duration>,
    /// Rows written, summed over outputs, when every output reported it.
    pub rows_written: Option<u64>,
    /// The outputs written.
    pub outputs: Vec<WrittenOutput>,
    /// The last error, for failed (and timed-out or cancelled) nodes.
    pub error: Option<NodeError>,
    /// What the successful attempt read and wrote (schemas, rows, samples), when the runner
    /// tracks lineage ([`crate::SparkNodeRunner`] does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage: Option<NodeLineage>,
    /// Metrics the node produced (ML nodes with `metrics:`, or recorded by a function).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub metrics: IndexMap<String, f64>,
    /// Results of the node's data quality expectations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<crate::expect::ExpectationResult>,
    /// For ML nodes: the model version and hyperparameters it ran with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ml: Option<Box<NodeMlRecord>>,
    /// The Spark Connect RPCs of the successful attempt: count, seconds spent waiting for
    /// them, and count by kind ([`crate::SparkNodeRunner`] records them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spark: Option<tauro_io::RpcStats>,
}

/// The ML execution metadata of one node (besides its status, start, end and duration).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeMlRecord {
    /// The model it trained or used.
    pub model_name: String,
    /// The model version it ran with.
    pub model_version: Option<String>,
    /// The hyperparameters it ran with.
    pub hyperparams: IndexMap<String, serde_json::Value>,
}

/// The result of a pipeline run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run's id: `<UTC yyyymmddThhmmssZ>-<6 hex>` unless set with
    /// [`crate::Executor::with_run_id`]. Names the lineage file
    /// (`.tauro/lineage/<run_id>.json`) and is in every lifecycle event.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// How it ended.
    pub status: RunStatus,
    /// Why it stopped early, if it did.
    pub stop_reason: Option<StopReason>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    #[serde(rename = "duration_secs", serialize_with = "secs")]
    pub duration: Duration,
    /// Every selected node, in execution (topological) order.
    pub nodes: Vec<NodeResult>,
    /// For pipelines with ML nodes: model, version, hyperparameters and the metrics produced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ml: Option<MlRunInfo>,
}

impl RunReport {
    /// True when every selected node completed.
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Succeeded
    }

    /// The result of one node.
    pub fn node(&self, name: &str) -> Option<&NodeResult> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Nodes with this status.
    pub fn nodes_with(&self, status: NodeStatus) -> impl Iterator<Item = &NodeResult> {
        self.nodes.iter().filter(move |n| n.status == status)
    }

    /// A metric produced by the run (the last node in execution order that produced it).
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.nodes
            .iter()
            .rev()
            .find_map(|n| n.metrics.get(name).copied())
    }

    /// Total rows written, over nodes that reported it.
    pub fn rows_written(&self) -> u64 {
        self.nodes.iter().filter_map(|n| n.rows_written).sum()
    }

    /// `Ok(self)` when the run succeeded, otherwise [`Error::RunFailed`] naming the failed
    /// nodes and the stop reason.
    pub fn into_result(self) -> Result<Self> {
        if self.succeeded() {
            return Ok(self);
        }
        let failed: Vec<&str> = self
            .nodes_with(NodeStatus::Failed)
            .map(|n| n.name.as_str())
            .collect();
        let mut reason = match &self.stop_reason {
            Some(r) => r.to_string(),
            None => String::new(),
        };
        if !failed.is_empty() && !matches!(self.stop_reason, Some(StopReason::NodeFailed { .. })) {
            if !reason.is_empty() {
                reason.push_str("; ");
            }
            reason.push_str(&format!("failed nodes: {}", failed.join(", ")));
        }
        Err(Error::RunFailed {
            pipeline: self.pipeline,
            status: self.status,
            breaker_opened: matches!(
                self.stop_reason,
                Some(StopReason::CircuitBreakerOpen { .. })
            ),
            reason,
        })
    }
}

fn secs<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn secs_opt<S: Serializer>(d: &Option<Duration>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}
