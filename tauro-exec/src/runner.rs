//! The [`NodeRunner`] trait: runs one attempt of one node. The executor schedules, the
//! runner does the work ([`crate::SparkNodeRunner`] on Spark; tests use fakes).

use std::sync::Arc;

use serde::Serialize;
use tauro_config::{Context, DateWindow, NodeConfig};
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::registry::{BoxFuture, NodeRegistry};

/// One attempt of one node, as handed to a [`NodeRunner`].
#[derive(Debug, Clone)]
pub struct NodeJob {
    /// The project.
    pub ctx: Arc<Context>,
    /// The node.
    pub node: Arc<NodeConfig>,
    /// The pipeline being run.
    pub pipeline: Arc<str>,
    /// The run's date window, if any.
    pub window: Option<DateWindow>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// Cancelled when the attempt must stop (timeout, Ctrl-C, circuit breaker). A runner
    /// must then interrupt its engine work and return promptly.
    pub cancel: CancellationToken,
}

/// One output written by a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenOutput {
    /// The output dataset name.
    pub output: String,
    /// Where it went (path or table).
    pub destination: String,
    /// Rows written, when the engine reported it.
    pub rows: Option<u64>,
}

impl From<tauro_io::WriteReport> for WrittenOutput {
    fn from(r: tauro_io::WriteReport) -> Self {
        Self {
            output: r.output,
            destination: r.destination,
            rows: r.rows,
        }
    }
}

/// What a successful attempt did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeOutcome {
    /// The outputs written, in the node's `output` order.
    pub outputs: Vec<WrittenOutput>,
}

impl NodeOutcome {
    /// Total rows written, when every output reported its count.
    pub fn rows_written(&self) -> Option<u64> {
        total_rows(&self.outputs)
    }
}

/// Rows over `outputs`, when there is at least one and each reported its count.
pub(crate) fn total_rows(outputs: &[WrittenOutput]) -> Option<u64> {
    if outputs.is_empty() {
        return None;
    }
    outputs.iter().map(|o| o.rows).sum()
}

/// Runs node attempts. Object-safe, so the executor holds an `Arc<dyn NodeRunner>`.
pub trait NodeRunner: Send + Sync {
    /// Runs one attempt of `job.node`.
    fn run(&self, job: NodeJob) -> BoxFuture<'_, Result<NodeOutcome>>;

    /// The registry `function:` nodes are looked up in, if this runner has one; the
    /// validator then checks every function node against it before anything runs.
    fn registry(&self) -> Option<&NodeRegistry> {
        None
    }
}

impl<R: NodeRunner + ?Sized> NodeRunner for Arc<R> {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, Result<NodeOutcome>> {
        (**self).run(job)
    }

    fn registry(&self) -> Option<&NodeRegistry> {
        (**self).registry()
    }
}
