//! What a stored run executes: [`PipelineExecutor`], and its Spark implementation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tauro_config::{Context, DateWindow, PipelineType};
use tauro_exec::{
    BoxFuture, Executor, MlOverrides, ModelRegistry, NodeRegistry, NodeSelection, ProgressSink,
    RunReport, SparkNodeRunner,
};
use tauro_io::SparkEngine;
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
        if matches!(
            pipeline.pipeline_type,
            PipelineType::Streaming | PipelineType::Hybrid
        ) {
            return Err(Error::Unsupported {
                what: format!(
                    "pipeline '{}' is {}: the runner executes batch and ml pipelines",
                    run.pipeline,
                    pipeline.pipeline_type.as_str()
                ),
            });
        }
        let params = RunParams::of(&run)?;
        let window = params.window(&self.ctx)?;
        let runner = SparkNodeRunner::new(self.engine.clone(), Arc::clone(&self.registry));
        let mut executor = Executor::new(runner)
            .with_cancel(cancel)
            .with_run_id(run.id.clone())
            .with_ml(params.ml())
            .with_events(ForwardSink(events));
        if let Some(models) = &self.models {
            executor = executor.with_model_registry(Arc::clone(models));
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
