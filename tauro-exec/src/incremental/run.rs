//! [`IncrementalRun`]: plan, run what the plan says on the executor, record state and
//! manifest — what `tauro-cli exec`, `plan` and `resume` call.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tauro_config::{Context, DateWindow};

use super::manifest::ProjectManifest;
use super::plan::{Plan, PlanAction, PlanMode};
use super::planner::Planner;
use super::run_state::RunState;
use super::select::SelectionSpec;
use super::store::StateDir;
use super::writer::StateWriter;
use crate::error::{BoxError, Error, Result};

type SinkResult = std::result::Result<(), BoxError>;
use crate::events::{Emitter, ProgressEvent, ProgressSink, RunInfo};
use crate::executor::Executor;
use crate::report::{NodeResult, RunReport, RunStatus};
use crate::state::NodeStatus;

/// An incremental (default), full or resume run of one pipeline.
///
/// ```ignore
/// let run = IncrementalRun::new(Arc::new(ctx), "daily_etl")
///     .with_window(window)
///     .with_selection(SelectionSpec::from_args(&nodes, &tags, &exclude_tags, &types))
///     .with_full(full);
/// let plan = run.plan()?;                       // no Spark; files only
/// if dry_run { return render(&plan) }
/// let executor = if plan.needs_engine() { Some(connect_and_build_executor().await?) } else { None };
/// let (plan, report) = run.execute(plan, executor.as_ref()).await?;
/// ```
///
/// Running:
/// 1. the run is recorded in `.tauro/run_state.json` as `running` (removed nodes dropped);
/// 2. the executor runs exactly the RUN nodes (`NodeSelection::Only`; dependencies on the
///    others count as satisfied), with its own retries, timeouts, circuit breaker and
///    `continue_on_error`; a [`StateWriter`] records each node as it finishes;
/// 3. [`ProgressEvent::NodeCached`] is sent for each cached node right after `RunStarted`;
///    when nothing runs, the executor is not called at all and the events are `RunStarted`
///    (0 nodes), the `NodeCached`s and `RunFinished` (succeeded);
/// 4. the run's end and the manifest (`.tauro/manifest.json`, previous one kept) are
///    written; the report lists the cached nodes too (status `cached`), in execution order.
///
/// State and manifest write failures do not fail the run: they are logged and added to the
/// returned plan's `warnings`.
#[derive(Clone)]
pub struct IncrementalRun {
    ctx: Arc<Context>,
    pipeline: String,
    window: Option<DateWindow>,
    selection: SelectionSpec,
    mode: PlanMode,
    dir: StateDir,
    sink: Option<Arc<dyn ProgressSink>>,
    run_id: Option<String>,
    ml: crate::ml::MlOverrides,
}

impl std::fmt::Debug for IncrementalRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncrementalRun")
            .field("pipeline", &self.pipeline)
            .field("window", &self.window)
            .field("selection", &self.selection)
            .field("mode", &self.mode)
            .field("dir", &self.dir)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

impl IncrementalRun {
    /// An incremental run of `pipeline`, with state in `<project_dir>/.tauro`.
    pub fn new(ctx: Arc<Context>, pipeline: impl Into<String>) -> Self {
        let dir = StateDir::for_project(&ctx.project_dir);
        Self {
            ctx,
            pipeline: pipeline.into(),
            window: None,
            selection: SelectionSpec::default(),
            mode: PlanMode::Incremental,
            dir,
            sink: None,
            run_id: None,
            ml: crate::ml::MlOverrides::default(),
        }
    }

    /// The date window (default: the global one; resume: the last run's).
    pub fn with_window(mut self, window: Option<DateWindow>) -> Self {
        self.window = window;
        self
    }

    /// The run's ML overrides (hyperparameters, model version): part of ML nodes'
    /// fingerprints. Give the executor the same ones ([`Executor::with_ml`]).
    pub fn with_ml(mut self, overrides: crate::ml::MlOverrides) -> Self {
        self.ml = overrides;
        self
    }

    /// The run's ML overrides.
    pub fn ml(&self) -> &crate::ml::MlOverrides {
        &self.ml
    }

    /// Restricts the run to a selection.
    pub fn with_selection(mut self, selection: SelectionSpec) -> Self {
        self.selection = selection;
        self
    }

    /// `--full`: every selected node runs.
    pub fn with_full(mut self, full: bool) -> Self {
        self.mode = if full {
            PlanMode::Full
        } else {
            PlanMode::Incremental
        };
        self
    }

    /// Resumes the last run of the pipeline instead (see [`Planner::resume`]).
    pub fn resume(mut self) -> Self {
        self.mode = PlanMode::Resume;
        self
    }

    /// Keeps state and manifest somewhere else than `<project_dir>/.tauro`.
    pub fn with_state_dir(mut self, dir: StateDir) -> Self {
        self.dir = dir;
        self
    }

    /// Also sends the run's events to `sink` (besides the executor's own sink, if any).
    pub fn with_events(mut self, sink: impl ProgressSink + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// The run's id (default: a new one, see [`crate::new_run_id`]).
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// The state directory.
    pub fn state_dir(&self) -> &StateDir {
        &self.dir
    }

    /// Decides the plan: loads the run state and the previous manifest (problems with
    /// either become warnings of the plan) and applies the mode's rules. No Spark, no
    /// writes. Resume errors when there is no previous run or nothing to resume.
    pub fn plan(&self) -> Result<Plan> {
        let loaded = RunState::load(&self.dir);
        let manifest = ProjectManifest::load(&self.dir);
        let planner = Planner::new(&self.ctx, &self.pipeline)
            .with_window(self.window)
            .with_state(&loaded.state)
            .with_previous_manifest(manifest.manifest.as_ref())
            .with_selection(self.selection.clone())
            .with_full(self.mode == PlanMode::Full)
            .with_ml(self.ml.clone());
        let mut plan = match self.mode {
            PlanMode::Resume => planner.resume()?,
            PlanMode::Incremental | PlanMode::Full => planner.plan()?,
        };
        let mut warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        warnings.extend(manifest.warning);
        warnings.append(&mut plan.warnings);
        plan.warnings = warnings;
        Ok(plan)
    }

    /// Plans, then runs the plan on `executor`.
    pub async fn run(&self, executor: &Executor) -> Result<(Plan, RunReport)> {
        let plan = self.plan()?;
        self.execute(plan, Some(executor)).await
    }

    /// Runs a plan made by [`plan`](Self::plan). `executor` may be `None` when the plan runs
    /// nothing ([`Plan::needs_engine`] is false): then no engine is needed at all.
    ///
    /// Errors are the executor's (validation) and [`Error::ExecutorRequired`]; node
    /// failures are in the report, as with [`Executor::run`].
    pub async fn execute(
        &self,
        mut plan: Plan,
        executor: Option<&Executor>,
    ) -> Result<(Plan, RunReport)> {
        if plan.needs_engine() && executor.is_none() {
            return Err(Error::ExecutorRequired {
                pipeline: plan.pipeline.clone(),
                nodes: plan.counts().run,
            });
        }
        let run_id = self
            .run_id
            .clone()
            .unwrap_or_else(crate::run_id::new_run_id);
        let writer = Arc::new(StateWriter::new(self.dir.clone(), &plan, run_id.clone()));
        if let Err(e) = writer.start() {
            plan.warnings.push(format!(
                "could not record the run in the run state: {e}; the run goes on"
            ));
        }
        let cached: Vec<(String, String)> = plan
            .with_action(PlanAction::Cached)
            .map(|n| {
                let reason = match &n.detail {
                    Some(d) => format!("{}: {d}", n.reason),
                    None => n.reason.to_string(),
                };
                (n.name.clone(), reason)
            })
            .collect();
        let mut sinks: Vec<Arc<dyn ProgressSink>> = vec![writer.clone()];
        sinks.extend(executor.and_then(Executor::events));
        sinks.extend(self.sink.clone());
        let started_at = Utc::now();
        let report = match executor.filter(|_| plan.needs_engine()) {
            Some(executor) => {
                let fan_out = FanOut { sinks, cached };
                let mut executor = executor.clone();
                if !executor.has_duration_estimates() {
                    executor = executor
                        .with_duration_estimates(previous_durations(&self.dir, &self.pipeline));
                }
                let result = executor
                    .with_events(fan_out)
                    .with_run_id(run_id.clone())
                    .run(
                        Arc::clone(&self.ctx),
                        &self.pipeline,
                        plan.window,
                        &plan.node_selection(),
                    )
                    .await;
                match result {
                    Ok(report) => report,
                    Err(e) => {
                        if let Err(w) = writer.abort(&e) {
                            tracing::warn!(error = %w, "could not record the failed run");
                        }
                        return Err(e);
                    }
                }
            }
            None => {
                // Nothing to run: the same events as a run of zero nodes (start, the cached
                // nodes, finish), without the executor.
                let fan_out = FanOut { sinks, cached };
                let emitter = Emitter::new(
                    Some(&fan_out),
                    RunInfo::new(run_id.clone(), self.pipeline.clone()).started_at(started_at),
                );
                emitter.emit(|| ProgressEvent::RunStarted {
                    pipeline: self.pipeline.clone(),
                    nodes: 0,
                });
                emitter.emit(|| ProgressEvent::RunFinished {
                    pipeline: self.pipeline.clone(),
                    status: RunStatus::Succeeded,
                    duration: Duration::ZERO,
                    stop_reason: None,
                });
                RunReport {
                    run_id: run_id.clone(),
                    pipeline: self.pipeline.clone(),
                    status: RunStatus::Succeeded,
                    stop_reason: None,
                    started_at,
                    duration: Duration::ZERO,
                    nodes: Vec::new(),
                    ml: None,
                }
            }
        };
        if let Err(e) = writer.finish(&report) {
            plan.warnings
                .push(format!("could not write the run state: {e}"));
        } else if let Some(e) = writer.last_error() {
            plan.warnings
                .push(format!("could not write the run state: {e}"));
        }
        if let Err(e) = ProjectManifest::store(&self.dir, plan.manifest()) {
            tracing::warn!(error = %e, "could not write the manifest");
            plan.warnings
                .push(format!("could not write the manifest: {e}"));
        }
        let report = with_cached(report, &plan);
        Ok((plan, report))
    }
}

/// The report with a `cached` result for each cached node, in the plan's order.
fn with_cached(mut report: RunReport, plan: &Plan) -> RunReport {
    let mut ran: std::collections::HashMap<String, NodeResult> = report
        .nodes
        .drain(..)
        .map(|n| (n.name.clone(), n))
        .collect();
    for node in &plan.nodes {
        if let Some(result) = ran.remove(&node.name) {
            report.nodes.push(result);
        } else if node.action == PlanAction::Cached {
            report.nodes.push(NodeResult {
                name: node.name.clone(),
                status: NodeStatus::Cached,
                attempts: 0,
                started_at: None,
                finished_at: None,
                duration: None,
                rows_written: None,
                outputs: Vec::new(),
                error: None,
                lineage: None,
                metrics: indexmap::IndexMap::new(),
                expectations: Vec::new(),
                ml: None,
                spark: None,
            });
        }
    }
    // Anything the plan did not list (cannot happen) is kept rather than lost.
    report.nodes.extend(ran.into_values());
    report
}

/// Delivers each event to every sink (each isolated from the others' failures and panics),
/// and the `NodeCached` events right after `RunStarted`.
struct FanOut {
    sinks: Vec<Arc<dyn ProgressSink>>,
    cached: Vec<(String, String)>,
}

impl FanOut {
    fn deliver(&self, run: Option<&RunInfo>, event: &ProgressEvent) -> Option<String> {
        let mut problem = None;
        for sink in &self.sinks {
            let outcome = catch_unwind(AssertUnwindSafe(|| match run {
                Some(run) => sink.on_run_event(run, event),
                None => sink.on_event(event),
            }));
            let failure = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "a progress sink panicked".to_string(),
            };
            problem.get_or_insert(failure);
        }
        problem
    }

    fn handle(&self, run: Option<&RunInfo>, event: &ProgressEvent) -> SinkResult {
        let mut problem = self.deliver(run, event);
        if matches!(event, ProgressEvent::RunStarted { .. }) {
            for (node, reason) in &self.cached {
                let cached = ProgressEvent::NodeCached {
                    node: node.clone(),
                    reason: reason.clone(),
                };
                if let Some(p) = self.deliver(run, &cached) {
                    problem.get_or_insert(p);
                }
            }
        }
        problem.map_or(Ok(()), |p| Err(p.into()))
    }
}

impl ProgressSink for FanOut {
    fn on_event(&self, event: &ProgressEvent) -> SinkResult {
        self.handle(None, event)
    }

    fn on_run_event(&self, run: &RunInfo, event: &ProgressEvent) -> SinkResult {
        self.handle(Some(run), event)
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;

/// How long each node took when it last completed (the run state), for critical-path order.
fn previous_durations(
    dir: &StateDir,
    pipeline: &str,
) -> std::collections::HashMap<String, std::time::Duration> {
    let loaded = super::run_state::RunState::load(dir);
    let Some(state) = loaded.state.pipelines.get(pipeline) else {
        return std::collections::HashMap::new();
    };
    state
        .nodes
        .iter()
        .filter(|(_, n)| n.status == NodeStatus::Completed)
        .filter_map(|(name, n)| {
            let secs = n.duration_secs.filter(|s| s.is_finite() && *s >= 0.0)?;
            Some((name.clone(), std::time::Duration::from_secs_f64(secs)))
        })
        .collect()
}
