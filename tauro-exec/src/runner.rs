//! The [`NodeRunner`] trait: runs one attempt of one node. The executor schedules, the
//! runner does the work ([`crate::SparkNodeRunner`] on Spark; tests use fakes).

use std::sync::Arc;

use serde::Serialize;
use tauro_config::{Context, DateWindow, NodeConfig};
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::lineage::NodeLineage;
use crate::ml::MlNodeSettings;
use crate::registry::{BoxFuture, NodeRegistry};

/// One attempt of one node, as handed to a [`NodeRunner`].
#[derive(Debug, Clone)]
pub struct NodeJob {
    ctx: Arc<Context>,
    node: usize,
    pipeline: Arc<str>,
    window: Option<DateWindow>,
    attempt: u32,
    cancel: CancellationToken,
    ml: Option<Arc<MlNodeSettings>>,
    run_id: Option<Arc<str>>,
}

impl NodeJob {
    /// A job for the node `node` of `ctx`; `None` when the project has no such node.
    pub fn new(
        ctx: Arc<Context>,
        node: &str,
        pipeline: impl Into<Arc<str>>,
        window: Option<DateWindow>,
        attempt: u32,
        cancel: CancellationToken,
    ) -> Option<Self> {
        let node = ctx.nodes.get_index_of(node)?;
        Some(Self::at(
            ctx,
            node,
            pipeline.into(),
            window,
            attempt,
            cancel,
        ))
    }

    /// A job for the node at `node` in `ctx.nodes` (an index the caller checked).
    pub(crate) fn at(
        ctx: Arc<Context>,
        node: usize,
        pipeline: Arc<str>,
        window: Option<DateWindow>,
        attempt: u32,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            ctx,
            node,
            pipeline,
            window,
            attempt,
            cancel,
            ml: None,
            run_id: None,
        }
    }

    /// The job with the ML settings of its node (hyperparameters, model version, metrics).
    pub fn with_ml(mut self, settings: Arc<MlNodeSettings>) -> Self {
        self.ml = Some(settings);
        self
    }

    /// The job with the id of its run.
    pub fn with_run_id(mut self, run_id: impl Into<Arc<str>>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// The node's ML settings, when it is an ML node.
    pub fn ml(&self) -> Option<&Arc<MlNodeSettings>> {
        self.ml.as_ref()
    }

    /// The run's id, when the executor gave one.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The project.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// The node.
    pub fn node(&self) -> &NodeConfig {
        &self.ctx.nodes[self.node]
    }

    /// The pipeline being run.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// The run's date window, if any.
    pub fn window(&self) -> Option<DateWindow> {
        self.window
    }

    /// 1 for the first attempt, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Cancelled when the attempt must stop (timeout, Ctrl-C, circuit breaker). A runner
    /// must then interrupt its engine work and return promptly.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeOutcome {
    /// The outputs written, in the node's `output` order.
    pub outputs: Vec<WrittenOutput>,
    /// What the attempt read and wrote, when the runner tracks lineage (becomes
    /// [`crate::NodeResult::lineage`]).
    pub lineage: Option<NodeLineage>,
    /// Metrics the node produced (declared `metrics:` and any a function recorded).
    pub metrics: indexmap::IndexMap<String, f64>,
    /// Results of the node's expectations.
    pub expectations: Vec<crate::expect::ExpectationResult>,
    /// The Spark Connect RPCs the attempt sent, when the runner counts them (becomes
    /// [`crate::NodeResult::spark`]).
    pub spark: Option<tauro_io::RpcStats>,
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

    /// Called once a run has ended (all its attempts returned): frees what the runner kept
    /// between attempts, e.g. sessions for reuse. Default: nothing.
    fn finish(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

impl<R: NodeRunner + ?Sized> NodeRunner for Arc<R> {
    fn run(&self, job: NodeJob) -> BoxFuture<'_, Result<NodeOutcome>> {
        (**self).run(job)
    }

    fn registry(&self) -> Option<&NodeRegistry> {
        (**self).registry()
    }

    fn finish(&self) -> BoxFuture<'_, ()> {
        (**self).finish()
    }
}
