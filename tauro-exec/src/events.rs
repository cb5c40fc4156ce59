//! Progress events for the CLI (or any embedder) while a run goes on.
//!
//! A sink that fails (returns an error, a closed channel, even a panic) is logged and
//! ignored: progress reporting never fails a run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::error::BoxError;
use crate::report::{NodeResult, RunStatus, StopReason};

/// Something that happened during a run.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[expect(
    clippy::large_enum_variant,
    reason = "one event per node and run; boxing the node result would burden every consumer"
)]
pub enum ProgressEvent {
    /// The run starts (after validation).
    RunStarted {
        /// The pipeline.
        pipeline: String,
        /// Selected nodes.
        nodes: usize,
    },
    /// A node's first attempt starts.
    NodeStarted {
        /// The node.
        node: String,
    },
    /// A node attempt failed and another will start after `delay`.
    NodeRetrying {
        /// The node.
        node: String,
        /// The attempt about to start (2 for the first retry).
        attempt: u32,
        /// Attempts allowed in total.
        max_attempts: u32,
        /// Wait before it.
        delay: Duration,
        /// Why the previous attempt failed.
        error: String,
    },
    /// A node reached its final status (completed, failed, skipped or cancelled).
    NodeFinished(NodeResult),
    /// An incremental run keeps a node's output from an earlier run instead of running it
    /// (sent right after `RunStarted`; when nothing runs, between a `RunStarted` of 0 nodes
    /// and `RunFinished`).
    NodeCached {
        /// The node.
        node: String,
        /// Why (`unchanged`, ...).
        reason: String,
    },
    /// The run ended.
    RunFinished {
        /// The pipeline.
        pipeline: String,
        /// How it ended.
        status: RunStatus,
        /// How long it took.
        duration: Duration,
        /// Why it stopped early, if it did.
        stop_reason: Option<StopReason>,
    },
    /// Progress of a streaming query. Reserved for the streaming runner (not emitted by
    /// the batch executor); hooks see it as `stream_progress`.
    StreamProgress {
        /// The node running the query.
        node: String,
        /// The micro-batch, when known.
        batch_id: Option<u64>,
        /// Rows processed in the batch, when known.
        rows: Option<u64>,
        /// Engine-specific details (Spark's progress JSON).
        details: serde_json::Value,
    },
}

/// The run an event belongs to, handed to [`ProgressSink::on_run_event`] with every event
/// (so one sink can serve concurrent runs without mixing them up).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunInfo {
    /// The run's id ([`crate::RunReport::run_id`]).
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
}

impl RunInfo {
    /// The run `run_id` of `pipeline`, started now.
    pub fn new(run_id: impl Into<String>, pipeline: impl Into<String>) -> Self {
        Self {
            run_id: run_id.into(),
            pipeline: pipeline.into(),
            started_at: Utc::now(),
        }
    }

    /// The same run, started at `started_at`.
    pub fn started_at(mut self, started_at: DateTime<Utc>) -> Self {
        self.started_at = started_at;
        self
    }
}

/// Receives progress events. Called from the executor's task: keep it quick.
pub trait ProgressSink: Send + Sync {
    /// Handles one event; an error is logged and otherwise ignored.
    fn on_event(&self, event: &ProgressEvent) -> Result<(), BoxError>;

    /// Handles one event of the run `run`. The executor calls this; the default forwards to
    /// [`ProgressSink::on_event`]. Sinks that need the run id (event hooks, lineage)
    /// override it.
    fn on_run_event(&self, run: &RunInfo, event: &ProgressEvent) -> Result<(), BoxError> {
        let _ = run;
        self.on_event(event)
    }
}

impl ProgressSink for mpsc::UnboundedSender<ProgressEvent> {
    fn on_event(&self, event: &ProgressEvent) -> Result<(), BoxError> {
        self.send(event.clone())
            .map_err(|_| "the progress receiver was dropped".into())
    }
}

impl ProgressSink for mpsc::Sender<ProgressEvent> {
    /// Never waits: when the channel is full the event is dropped (and logged).
    fn on_event(&self, event: &ProgressEvent) -> Result<(), BoxError> {
        self.try_send(event.clone()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => "the progress channel is full".into(),
            mpsc::error::TrySendError::Closed(_) => "the progress receiver was dropped".into(),
        })
    }
}

/// A sink calling a closure: `CallbackSink(|e: &ProgressEvent| println!("{e:?}"))`.
#[derive(Debug, Clone)]
pub struct CallbackSink<F>(pub F);

impl<F> ProgressSink for CallbackSink<F>
where
    F: Fn(&ProgressEvent) + Send + Sync,
{
    fn on_event(&self, event: &ProgressEvent) -> Result<(), BoxError> {
        (self.0)(event);
        Ok(())
    }
}

/// Delivers events of one run to an optional sink, logging its first failure only.
pub(crate) struct Emitter<'a> {
    sink: Option<&'a dyn ProgressSink>,
    run: RunInfo,
    warned: AtomicBool,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(sink: Option<&'a dyn ProgressSink>, run: RunInfo) -> Self {
        Self {
            sink,
            run,
            warned: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.sink.is_some()
    }

    pub(crate) fn emit(&self, event: impl FnOnce() -> ProgressEvent) {
        let Some(sink) = self.sink else {
            return;
        };
        let event = event();
        let outcome = catch_unwind(AssertUnwindSafe(|| sink.on_run_event(&self.run, &event)));
        let problem = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the progress sink panicked".to_string(),
        };
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %problem, "progress event not delivered (further failures not logged)");
        }
    }
}
