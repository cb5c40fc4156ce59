//! The parallel executor: validates a run, then schedules node attempts on a
//! [`NodeRunner`].
//!
//! Scheduling rules:
//! - A node starts as soon as its own dependencies completed (no level-by-level waves), at
//!   most `max_workers` attempts at a time. Among ready nodes, the one heading the longest
//!   expected path of work goes first (critical path, from node durations of earlier runs:
//!   [`Executor::with_duration_estimates`]); without estimates, or between equals, the first
//!   in topological (then pipeline) order.
//! - A failed attempt is retried after an exponential backoff with full jitter
//!   ([`RetryPolicy`]); a node's `retries` overrides the policy's `max_retries`. A node
//!   waiting for its retry does not hold a worker slot.
//! - Each attempt has a timeout (the node's `timeout`, else the executor's / global
//!   `node_timeout`); on expiry its cancel token is cancelled (the Spark runner then
//!   interrupts its Spark work) and the attempt fails with [`Error::Timeout`].
//! - Circuit breaker: after `circuit_breaker_threshold` consecutive failed attempts (any
//!   nodes; a success resets the count; 0 disables it) the run stops: running attempts are
//!   cancelled, pending nodes and pending retries become `cancelled`.
//! - `continue_on_error`: nodes that do not depend on a failed node go on; its downstream
//!   nodes are `skipped`; the run fails.
//! - Without `continue_on_error`, the first failed node stops the run: no new node or retry
//!   starts, **attempts already running finish** (their writes are not cut in half), the
//!   failed node's downstream is `skipped`, every other node that did not run is
//!   `cancelled`.
//! - External cancellation ([`Executor::with_cancel`], e.g. Ctrl-C): nothing new starts,
//!   running attempts are cancelled (their Spark work interrupted), the report says what
//!   completed. Attempts that do not stop within the grace period are aborted.
//!
//! Spawned attempts live in a `JoinSet` owned by the run: nothing outlives it.

mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use tauro_config::{Context, DateWindow};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::events::ProgressSink;
use crate::ml::{MlOverrides, MlPlan, ModelRegistry, ModelVersionRecord};
use crate::report::RunReport;
use crate::retry::RetryPolicy;
use crate::runner::NodeRunner;
use crate::selection::NodeSelection;
use crate::validator::PipelineValidator;

/// Runs pipelines on a [`NodeRunner`]. Settings not given here come from the project
/// (`max_workers`, `max_retries`, `retry_delay`, `node_timeout_seconds`,
/// `circuit_breaker_threshold`, `continue_on_error`).
///
/// ```ignore
/// let report = Executor::new(SparkNodeRunner::new(engine, NodeRegistry::with_builtins()))
///     .with_max_workers(4)
///     .with_cancel(ctrl_c_token)
///     .with_events(progress_tx)
///     .run(Arc::new(ctx), "daily_etl", window, &NodeSelection::All)
///     .await?;
/// ```
#[derive(Clone)]
pub struct Executor {
    runner: Arc<dyn NodeRunner>,
    max_workers: Option<usize>,
    retry: Option<RetryPolicy>,
    continue_on_error: Option<bool>,
    node_timeout: Option<Duration>,
    breaker_threshold: Option<u32>,
    cancel: CancellationToken,
    sink: Option<Arc<dyn ProgressSink>>,
    cancel_grace: Duration,
    run_id: Option<String>,
    ml: MlOverrides,
    models: Option<Arc<dyn ModelRegistry>>,
    estimates: Option<Arc<std::collections::HashMap<String, Duration>>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("max_workers", &self.max_workers)
            .field("retry", &self.retry)
            .field("continue_on_error", &self.continue_on_error)
            .field("node_timeout", &self.node_timeout)
            .field("breaker_threshold", &self.breaker_threshold)
            .field("cancel_grace", &self.cancel_grace)
            .field("run_id", &self.run_id)
            .field("ml", &self.ml)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor running nodes on `runner`.
    pub fn new(runner: impl NodeRunner + 'static) -> Self {
        Self::from_arc(Arc::new(runner))
    }

    /// An executor running nodes on a shared runner.
    pub fn from_arc(runner: Arc<dyn NodeRunner>) -> Self {
        Self {
            runner,
            max_workers: None,
            retry: None,
            continue_on_error: None,
            node_timeout: None,
            breaker_threshold: None,
            cancel: CancellationToken::new(),
            sink: None,
            cancel_grace: Duration::from_secs(30),
            run_id: None,
            ml: MlOverrides::default(),
            models: None,
            estimates: None,
        }
    }

    /// Expected node durations (e.g. from the run state of earlier runs): when workers are
    /// scarce, the ready node heading the longest expected path starts first.
    pub fn with_duration_estimates(
        mut self,
        estimates: std::collections::HashMap<String, Duration>,
    ) -> Self {
        self.estimates = Some(Arc::new(estimates));
        self
    }

    /// Whether duration estimates were given.
    pub fn has_duration_estimates(&self) -> bool {
        self.estimates.is_some()
    }

    /// Run-level hyperparameters and model version for ML nodes (they win over node and
    /// pipeline values; see [`MlPlan`]).
    pub fn with_ml(mut self, overrides: MlOverrides) -> Self {
        self.ml = overrides;
        self
    }

    /// The ML overrides of this executor.
    pub fn ml(&self) -> &MlOverrides {
        &self.ml
    }

    /// Registers the model version of every successful run with ML nodes in `registry`
    /// (with the run's hyperparameters and metrics), and resolves `model_version: latest`
    /// through it.
    pub fn with_model_registry(mut self, registry: Arc<dyn ModelRegistry>) -> Self {
        self.models = Some(registry);
        self
    }

    /// The id of the runs of this executor (default: a new id per run, see
    /// [`crate::new_run_id`]). An executor reused for several runs gives each this id.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// At most `n` node attempts at a time (at least 1).
    pub fn with_max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n.max(1));
        self
    }

    /// How failed attempts are retried.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Keep running independent nodes after a failure.
    pub fn with_continue_on_error(mut self, yes: bool) -> Self {
        self.continue_on_error = Some(yes);
        self
    }

    /// Timeout of one attempt for nodes without their own `timeout`.
    pub fn with_node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = Some(timeout);
        self
    }

    /// Stop the run after `threshold` consecutive failed attempts (0 disables the breaker).
    pub fn with_circuit_breaker(mut self, threshold: u32) -> Self {
        self.breaker_threshold = Some(threshold);
        self
    }

    /// Cancelling `token` stops the run and interrupts running Spark work.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Sends progress events to `sink` (an mpsc sender, a [`crate::CallbackSink`], ...).
    pub fn with_events(mut self, sink: impl ProgressSink + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// The sink set with [`with_events`](Self::with_events), if any (wrappers such as
    /// [`crate::IncrementalRun`] chain it with their own).
    pub fn events(&self) -> Option<Arc<dyn ProgressSink>> {
        self.sink.clone()
    }

    /// How long cancelled attempts get to wind down before they are aborted (default 30 s).
    pub fn with_cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// The checks [`run`](Self::run) makes before any work (graph, registered functions of
    /// this executor's runner, datasets, selection, dates), without running anything.
    pub fn validate(
        &self,
        ctx: &Context,
        pipeline: &str,
        window: Option<DateWindow>,
        selection: &NodeSelection,
    ) -> Result<()> {
        let mut validator = PipelineValidator::new(ctx);
        if let Some(registry) = self.runner.registry() {
            validator = validator.with_registry(registry);
        }
        validator.validate(pipeline, selection, window)?;
        MlPlan::resolve(ctx, pipeline, &self.ml).map(|_| ())
    }

    /// Validates, then runs the `selection` of `pipeline` for `window` (default: the global
    /// `start_date`/`end_date`).
    ///
    /// Validation problems are errors. Node failures, an open circuit breaker and
    /// cancellation are not: they are in the report (`status`, `stop_reason`, per-node
    /// errors); [`RunReport::into_result`] turns an unsuccessful report into an error.
    pub async fn run(
        &self,
        ctx: Arc<Context>,
        pipeline: &str,
        window: Option<DateWindow>,
        selection: &NodeSelection,
    ) -> Result<RunReport> {
        let mut validator = PipelineValidator::new(&ctx);
        if let Some(registry) = self.runner.registry() {
            validator = validator.with_registry(registry);
        }
        let validated = validator.validate(pipeline, selection, window)?;
        let (ml, used_latest) = self.ml_plan(&ctx, pipeline)?;
        let ml = Arc::new(ml);
        let settings = self.settings(&ctx, pipeline);
        let run = scheduler::Run {
            runner: Arc::clone(&self.runner),
            ctx: Arc::clone(&ctx),
            settings,
            cancel: self.cancel.clone(),
            sink: self.sink.clone(),
            run_id: self
                .run_id
                .clone()
                .unwrap_or_else(crate::run_id::new_run_id),
            ml: Arc::clone(&ml),
            estimates: self.estimates.clone(),
        };
        // The scheduling loop runs as a task of its own (owned by this future: dropping the
        // future aborts it), so that it sits on a runtime worker next to the attempts it
        // spawns instead of on whatever thread awaits `run` (e.g. `block_on`'s).
        let mut owner = JoinSet::new();
        owner.spawn(async move { run.execute(validated).await });
        let ended = owner.join_next().await;
        self.runner.finish().await;
        match ended {
            Some(Ok(Ok(report))) => {
                self.register_model(&report, used_latest);
                Ok(report)
            }
            Some(Ok(report)) => report,
            Some(Err(e)) => Err(Error::Panicked {
                node: format!("<scheduler of pipeline '{pipeline}'>"),
                message: e.to_string(),
            }),
            None => Err(Error::Cancelled {
                node: format!("<scheduler of pipeline '{pipeline}'>"),
            }),
        }
    }

    /// The run's ML settings, with `latest` resolved through the model registry.
    fn ml_plan(&self, ctx: &Context, pipeline: &str) -> Result<(MlPlan, bool)> {
        let mut plan = MlPlan::resolve(ctx, pipeline, &self.ml)?;
        for warning in &plan.warnings {
            tracing::info!("{warning}");
        }
        let used_latest = plan.wants_latest();
        if let (true, Some(models)) = (used_latest, &self.models) {
            let model = plan.run.model_name.clone();
            let latest = models
                .latest(&model)?
                .ok_or(Error::NoModelVersion { model })?;
            plan.replace_model_version("latest", &latest.version);
        }
        Ok((plan, used_latest))
    }

    /// Records the model version a successful ML run produced (failures only warn: the
    /// run itself succeeded). A run that used `latest` used a model, it did not make one:
    /// nothing is registered.
    fn register_model(&self, report: &RunReport, used_latest: bool) {
        let (Some(models), Some(ml)) = (&self.models, &report.ml) else {
            return;
        };
        if used_latest {
            return;
        }
        if !report.succeeded() {
            return;
        }
        let record = ModelVersionRecord {
            model: ml.model_name.clone(),
            version: ml
                .model_version
                .clone()
                .unwrap_or_else(|| report.run_id.clone()),
            run_id: report.run_id.clone(),
            pipeline: report.pipeline.clone(),
            registered_at: chrono::Utc::now(),
            hyperparams: ml.hyperparams.clone(),
            metrics: ml.metrics.clone(),
        };
        if let Err(e) = models.register_version(&record) {
            tracing::warn!(error = %e, model = %record.model, "could not register the model version");
        }
    }

    fn settings(&self, ctx: &Context, pipeline: &str) -> scheduler::Settings {
        let pipeline_workers = ctx.pipelines.get(pipeline).and_then(|p| p.max_workers);
        scheduler::Settings {
            max_workers: self
                .max_workers
                .or(pipeline_workers)
                .unwrap_or(ctx.global.max_workers)
                .max(1),
            retry: self
                .retry
                .unwrap_or_else(|| RetryPolicy::from_settings(&ctx.global)),
            continue_on_error: self
                .continue_on_error
                .unwrap_or(ctx.global.continue_on_error),
            node_timeout: self.node_timeout.or(ctx.global.node_timeout),
            breaker_threshold: self
                .breaker_threshold
                .unwrap_or(ctx.global.circuit_breaker_threshold),
            cancel_grace: self.cancel_grace,
        }
    }
}

#[cfg(test)]
mod tests;
