//! What a stored run executes: [`PipelineExecutor`], and its Spark implementation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tauro_config::{Context, DateWindow, PipelineType};
use tauro_exec::{
    BoxFuture, Executor, MlOverrides, ModelRegistry, NodeError, NodeRegistry, NodeResult,
    NodeSelection, NodeStatus, ProgressSink, RunReport, RunStatus, SparkNodeRunner,
};
use tauro_io::SparkEngine;
use tauro_streaming::{HybridReport, HybridRunner, HybridStatus, StopCondition};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::store::PipelineRun;

/// The parameters a stored run carries (`params` of [`PipelineRun`]), all optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunParams {
    /// First day of the window (`YYYY-MM-DD`); default: the project's `start_date`.
    pub start: Option<String>,
    /// Last day of the window; default: the start.
    pub end: Option<String>,
    /// Hyperparameter overrides for ML nodes.
    pub hyperparams: serde_json::Map<String, serde_json::Value>,
    /// The model version of the run.
    pub model_version: Option<String>,
    /// Attempts in total (default: the runner's).
    pub max_attempts: Option<u32>,
    /// Seconds between attempts (default: the runner's).
    pub retry_delay_secs: Option<f64>,
    /// Deadline of one attempt, in seconds (default: the runner's).
    pub timeout_secs: Option<f64>,
    /// The backfill this run belongs to.
    pub backfill_id: Option<String>,
}

impl RunParams {
    /// The parameters of a stored run (unknown keys are ignored).
    pub fn of(run: &PipelineRun) -> Result<Self> {
        serde_json::from_value(run.params.clone()).map_err(|e| Error::InvalidParams {
            run: run.id.clone(),
            reason: e.to_string(),
        })
    }

    /// As stored.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The window of the run in `ctx`.
    pub fn window(&self, ctx: &Context) -> Result<Option<DateWindow>> {
        let parse = |d: &Option<String>| {
            d.as_deref()
                .map(tauro_config::parse_date)
                .transpose()
                .map_err(Error::Config)
        };
        Ok(ctx.window_for(parse(&self.start)?, parse(&self.end)?)?)
    }

    /// The ML overrides of the run.
    pub fn ml(&self) -> MlOverrides {
        MlOverrides {
            hyperparams: self.hyperparams.clone().into_iter().collect(),
            model_version: self.model_version.clone(),
        }
    }
}

/// Executes one attempt of a stored run. The runner owns the state; this only runs the
/// pipeline, honouring `cancel` and reporting progress to `events`.
pub trait PipelineExecutor: Send + Sync {
    /// Runs `run` once.
    fn execute(
        &self,
        run: PipelineRun,
        cancel: CancellationToken,
        events: Arc<dyn ProgressSink>,
    ) -> BoxFuture<'_, Result<RunReport>>;
}

/// Runs pipelines of one project on a Spark Connect engine with `tauro-exec`: every run is a
/// full run of the pipeline (no incremental reuse) for the run's window.
#[derive(Clone)]
pub struct SparkPipelineExecutor {
    ctx: Arc<Context>,
    engine: SparkEngine,
    registry: Arc<NodeRegistry>,
    models: Option<Arc<dyn ModelRegistry>>,
}

impl std::fmt::Debug for SparkPipelineExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparkPipelineExecutor")
            .field("project", &self.ctx.project_dir)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl SparkPipelineExecutor {
    /// An executor for the pipelines of `ctx` on `engine`, with the functions of `registry`.
    pub fn new(
        ctx: Arc<Context>,
        engine: SparkEngine,
        registry: impl Into<Arc<NodeRegistry>>,
    ) -> Self {
        Self {
            ctx,
            engine,
            registry: registry.into(),
            models: None,
        }
    }

    /// Registers model versions of successful ML runs in `models`.
    pub fn with_model_registry(mut self, models: Arc<dyn ModelRegistry>) -> Self {
        self.models = Some(models);
        self
    }

    /// The project.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    async fn run_once(
        &self,
        run: PipelineRun,
        cancel: CancellationToken,
        events: Arc<dyn ProgressSink>,
    ) -> Result<RunReport> {
        let pipeline = self.ctx.pipeline(&run.pipeline)?;
        let params = RunParams::of(&run)?;
        let window = params.window(&self.ctx)?;
        let runner = SparkNodeRunner::new(self.engine.clone(), Arc::clone(&self.registry));
        let mut executor = Executor::new(runner)
            .with_cancel(cancel.clone())
            .with_run_id(run.id.clone())
            .with_ml(params.ml())
            .with_events(ForwardSink(Arc::clone(&events)));
        if let Some(models) = &self.models {
            executor = executor.with_model_registry(Arc::clone(models));
        }
        if matches!(
            pipeline.pipeline_type,
            PipelineType::Streaming | PipelineType::Hybrid
        ) {
            let report = self
                .run_streaming(&run, &params, window, executor, cancel)
                .await?;
            // The queries' results, as node events (the batch part sent its own).
            let batch_nodes = self.ctx.pipeline_nodes(&run.pipeline)?;
            for node in report.nodes.iter().filter(|n| {
                batch_nodes
                    .iter()
                    .any(|b| b.name == n.name && b.streaming.is_some())
            }) {
                for event in [
                    tauro_exec::ProgressEvent::NodeStarted {
                        node: node.name.clone(),
                    },
                    tauro_exec::ProgressEvent::NodeFinished(node.clone()),
                ] {
                    if let Err(e) = events.on_event(&event) {
                        tracing::debug!(error = %e, "progress event not delivered");
                    }
                }
            }
            return Ok(report);
        }
        Ok(executor
            .run(
                Arc::clone(&self.ctx),
                &run.pipeline,
                window,
                &NodeSelection::All,
            )
            .await?)
    }

    /// A streaming or hybrid pipeline through `tauro-streaming`: the batch part, then the
    /// queries until they processed what is available (available-now / once triggers) or
    /// the run's `timeout_secs` passed (required for queries that never end by themselves).
    async fn run_streaming(
        &self,
        run: &PipelineRun,
        params: &RunParams,
        window: Option<DateWindow>,
        executor: Executor,
        cancel: CancellationToken,
    ) -> Result<RunReport> {
        let until_available = tauro_streaming::every_trigger_terminates(&self.ctx, &run.pipeline);
        let timeout = params
            .timeout_secs
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok());
        if !until_available && timeout.is_none() {
            return Err(Error::Unsupported {
                what: format!(
                    "pipeline '{}' has queries that never end by themselves: give the run \
                     timeout_secs (or use available-now triggers)",
                    run.pipeline
                ),
            });
        }
        let started_at = chrono::Utc::now();
        let clock = std::time::Instant::now();
        let report = HybridRunner::new(
            Arc::clone(&self.ctx),
            run.pipeline.clone(),
            self.engine.clone(),
            executor,
        )
        .with_window(window)
        .with_stop(StopCondition {
            until_available,
            timeout,
            cancel: Some(cancel),
        })
        .with_registry(Arc::clone(&self.registry))
        .run()
        .await?;
        Ok(hybrid_report(run, report, started_at, clock.elapsed()))
    }
}

/// A hybrid run as a batch report: the batch part's nodes, then one result per query.
fn hybrid_report(
    run: &PipelineRun,
    hybrid: HybridReport,
    started_at: chrono::DateTime<chrono::Utc>,
    took: std::time::Duration,
) -> RunReport {
    let status = match hybrid.status {
        HybridStatus::Succeeded => RunStatus::Succeeded,
        HybridStatus::Failed => RunStatus::Failed,
        HybridStatus::Cancelled => RunStatus::Cancelled,
    };
    let mut report = hybrid.batch.unwrap_or_else(|| RunReport {
        run_id: run.id.clone(),
        pipeline: run.pipeline.clone(),
        status,
        stop_reason: None,
        started_at,
        duration: took,
        nodes: Vec::new(),
        ml: None,
    });
    report.status = status;
    report.duration = took;
    for s in hybrid.streams {
        report.nodes.push(NodeResult {
            name: s.node,
            status: if s.error.is_some() {
                NodeStatus::Failed
            } else {
                NodeStatus::Completed
            },
            attempts: 1,
            started_at: Some(started_at),
            finished_at: Some(chrono::Utc::now()),
            duration: Some(took),
            rows_written: Some(s.input_rows),
            outputs: Vec::new(),
            error: s
                .error
                .map(|e| NodeError::from(tauro_exec::Error::function(e))),
            lineage: None,
            metrics: indexmap::IndexMap::new(),
            expectations: Vec::new(),
            ml: None,
            spark: None,
        });
    }
    report
}

impl PipelineExecutor for SparkPipelineExecutor {
    fn execute(
        &self,
        run: PipelineRun,
        cancel: CancellationToken,
        events: Arc<dyn ProgressSink>,
    ) -> BoxFuture<'_, Result<RunReport>> {
        Box::pin(self.run_once(run, cancel, events))
    }
}

/// A shared sink handed to the executor (which takes sinks by value).
struct ForwardSink(Arc<dyn ProgressSink>);

impl ProgressSink for ForwardSink {
    fn on_event(
        &self,
        event: &tauro_exec::ProgressEvent,
    ) -> std::result::Result<(), tauro_exec::BoxError> {
        self.0.on_event(event)
    }

    fn on_run_event(
        &self,
        run: &tauro_exec::RunInfo,
        event: &tauro_exec::ProgressEvent,
    ) -> std::result::Result<(), tauro_exec::BoxError> {
        self.0.on_run_event(run, event)
    }
}
