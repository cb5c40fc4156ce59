//! [`LifecycleEvent`]: the typed events hooks receive, and their JSON form.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use crate::events::{ProgressEvent, RunInfo};
use crate::report::{NodeResult, RunStatus, StopReason};
use crate::state::NodeStatus;

/// What happened, with its data.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The run started (after validation).
    PipelineStart {
        /// Selected nodes.
        nodes: usize,
    },
    /// A node's first attempt started.
    NodeStart {
        /// The node.
        node: String,
        /// Always 1 (retries are `node_retry`).
        attempt: u32,
    },
    /// A node attempt failed and another starts after `delay`.
    NodeRetry {
        /// The node.
        node: String,
        /// The attempt about to start (2 for the first retry).
        attempt: u32,
        /// Attempts allowed in total.
        max_attempts: u32,
        /// The wait before it.
        #[serde(rename = "delay_secs", serialize_with = "secs")]
        delay: Duration,
        /// Why the previous attempt failed.
        error: String,
    },
    /// A node completed (its result, with lineage when tracked).
    NodeComplete(NodeResult),
    /// A node failed after its last attempt.
    NodeError(NodeResult),
    /// A node did not run because an upstream node failed or was skipped.
    NodeSkipped(NodeResult),
    /// A node was stopped, or never started, because the run stopped.
    NodeCancelled(NodeResult),
    /// A node was not run: its outputs are up to date (incremental runs).
    NodeCached {
        /// The node.
        node: String,
        /// Why it was not run.
        reason: String,
    },
    /// Progress of a streaming query (reserved for the streaming runner).
    StreamProgress {
        /// The node.
        node: String,
        /// The micro-batch, when known.
        batch_id: Option<u64>,
        /// Rows in the batch, when known.
        rows: Option<u64>,
        /// Engine details.
        details: serde_json::Value,
    },
    /// The run ended with every node completed.
    PipelineComplete {
        /// `succeeded`.
        status: RunStatus,
        /// How long the run took.
        #[serde(rename = "duration_secs", serialize_with = "secs")]
        duration: Duration,
    },
    /// The run ended otherwise (a node failed, the breaker opened, it was cancelled).
    PipelineError {
        /// `failed` or `cancelled`.
        status: RunStatus,
        /// How long the run took.
        #[serde(rename = "duration_secs", serialize_with = "secs")]
        duration: Duration,
        /// Why it stopped early, if it did.
        stop_reason: Option<StopReason>,
    },
}

impl EventKind {
    /// The stable name of the event (`pipeline_start`, `node_complete`, ...), as in
    /// [`tauro_config::HOOK_EVENTS`].
    pub fn name(&self) -> &'static str {
        match self {
            Self::PipelineStart { .. } => "pipeline_start",
            Self::NodeStart { .. } => "node_start",
            Self::NodeRetry { .. } => "node_retry",
            Self::NodeComplete(_) => "node_complete",
            Self::NodeError(_) => "node_error",
            Self::NodeSkipped(_) => "node_skipped",
            Self::NodeCancelled(_) => "node_cancelled",
            Self::NodeCached { .. } => "node_cached",
            Self::StreamProgress { .. } => "stream_progress",
            Self::PipelineComplete { .. } => "pipeline_complete",
            Self::PipelineError { .. } => "pipeline_error",
        }
    }

    /// The node the event is about, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::NodeStart { node, .. }
            | Self::NodeRetry { node, .. }
            | Self::NodeCached { node, .. }
            | Self::StreamProgress { node, .. } => Some(node),
            Self::NodeComplete(r)
            | Self::NodeError(r)
            | Self::NodeSkipped(r)
            | Self::NodeCancelled(r) => Some(&r.name),
            Self::PipelineStart { .. }
            | Self::PipelineComplete { .. }
            | Self::PipelineError { .. } => None,
        }
    }

    /// The node's final result, for `node_complete`, `node_error`, `node_skipped` and
    /// `node_cancelled`.
    pub fn result(&self) -> Option<&NodeResult> {
        match self {
            Self::NodeComplete(r)
            | Self::NodeError(r)
            | Self::NodeSkipped(r)
            | Self::NodeCancelled(r) => Some(r),
            _ => None,
        }
    }
}

/// A lifecycle event of a run, as hooks receive it.
///
/// Its JSON form ([`LifecycleEvent::to_json`]) is one object:
/// `{"event": kind, "run_id", "pipeline", "node" (node events), "timestamp", ...data}`;
/// see `docs/events.md`.
#[derive(Debug, Clone)]
pub struct LifecycleEvent {
    /// The run.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

impl LifecycleEvent {
    /// An event of `run` happening now.
    pub fn new(run: &RunInfo, kind: EventKind) -> Self {
        Self {
            run_id: run.run_id.clone(),
            pipeline: run.pipeline.clone(),
            timestamp: Utc::now(),
            kind,
        }
    }

    /// The lifecycle event of an executor progress event, if it is one (nodes still
    /// pending, running or retrying are not).
    pub fn from_progress(run: &RunInfo, event: &ProgressEvent) -> Option<Self> {
        #[allow(unreachable_patterns)] // new ProgressEvent variants map to nothing until mapped
        let kind = match event {
            ProgressEvent::RunStarted { nodes, .. } => EventKind::PipelineStart { nodes: *nodes },
            ProgressEvent::NodeStarted { node } => EventKind::NodeStart {
                node: node.clone(),
                attempt: 1,
            },
            ProgressEvent::NodeRetrying {
                node,
                attempt,
                max_attempts,
                delay,
                error,
            } => EventKind::NodeRetry {
                node: node.clone(),
                attempt: *attempt,
                max_attempts: *max_attempts,
                delay: *delay,
                error: error.clone(),
            },
            ProgressEvent::NodeFinished(r) => match r.status {
                NodeStatus::Completed => EventKind::NodeComplete(r.clone()),
                NodeStatus::Failed => EventKind::NodeError(r.clone()),
                NodeStatus::Skipped => EventKind::NodeSkipped(r.clone()),
                NodeStatus::Cancelled => EventKind::NodeCancelled(r.clone()),
                _ => return None,
            },
            ProgressEvent::RunFinished {
                status,
                duration,
                stop_reason,
                ..
            } => match status {
                RunStatus::Succeeded => EventKind::PipelineComplete {
                    status: *status,
                    duration: *duration,
                },
                RunStatus::Failed | RunStatus::Cancelled => EventKind::PipelineError {
                    status: *status,
                    duration: *duration,
                    stop_reason: stop_reason.clone(),
                },
            },
            ProgressEvent::NodeCached { node, reason } => EventKind::NodeCached {
                node: node.clone(),
                reason: reason.clone(),
            },
            ProgressEvent::StreamProgress {
                node,
                batch_id,
                rows,
                details,
            } => EventKind::StreamProgress {
                node: node.clone(),
                batch_id: *batch_id,
                rows: *rows,
                details: details.clone(),
            },
            _ => return None,
        };
        Some(Self::new(run, kind))
    }

    /// The stable name of the event (`node_complete`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind.name()
    }

    /// The node the event is about, if any.
    pub fn node(&self) -> Option<&str> {
        self.kind.node()
    }

    /// The event as one JSON object, keys in this order: `event`, `run_id`, `pipeline`,
    /// `node` (node events only), `timestamp` (RFC 3339, UTC, milliseconds), then the
    /// event's data (a node result's fields for `node_complete`/`node_error`/...).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        let mut data = match serde_json::to_value(&self.kind) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        data.shift_remove("event");
        let node = data
            .shift_remove("node")
            .or_else(|| data.shift_remove("name"));
        let mut out = Map::with_capacity(data.len() + 5);
        out.insert("event".into(), self.kind().into());
        out.insert("run_id".into(), self.run_id.clone().into());
        out.insert("pipeline".into(), self.pipeline.clone().into());
        if let Some(node) = node {
            out.insert("node".into(), node);
        }
        out.insert(
            "timestamp".into(),
            self.timestamp
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        out.extend(data);
        Value::Object(out)
    }
}

impl Serialize for LifecycleEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
