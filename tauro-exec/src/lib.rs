//! Tauro execution (layer 3 of 6: `config ← io ← exec ← streaming ← orchest ← cli`).
//!
//! Resolve → validate → run:
//! - [`DependencyResolver`] turns a pipeline into a petgraph DAG ([`DependencyGraph`]) with a
//!   deterministic topological order; cycles are reported with their path.
//! - [`PipelineValidator`] checks a run before any Spark work (graph, registered functions,
//!   datasets, node selection, dates).
//! - [`Executor`] runs the selected nodes concurrently on a [`NodeRunner`] (retries with
//!   backoff, timeouts, circuit breaker, `continue_on_error`, cancellation) and returns a
//!   [`RunReport`]; [`ProgressEvent`]s report progress on the way.
//! - [`SparkNodeRunner`] is the runner for Spark Connect: each attempt runs in a session of
//!   its own (a plain SQL node's session, reset, serves a later one), loads inputs as temp views, runs SQL (`:start_date`/`:end_date` bound as parameters) or
//!   a [`NodeFunction`] from a [`NodeRegistry`], and writes every output.
//! - [`IncrementalRun`] runs only what changed: a [`Planner`] compares node fingerprints with
//!   the project's `.tauro/run_state.json` and decides RUN / CACHED / SKIP per node (with
//!   `--full`, selections ([`SelectionSpec`]) and resume); the manifest of each run is kept in
//!   `.tauro/manifest.json`.
//! - [`ExperimentCommand`] searches hyperparameters: a [`BayesOptimizer`] (Gaussian process,
//!   expected improvement) proposes each trial, the caller runs it and returns its metric.
//!
//! ```ignore
//! use std::sync::Arc;
//! use tauro_exec::{Executor, NodeRegistry, NodeSelection, SparkNodeRunner};
//!
//! let engine = tauro_io::SparkEngine::connect("sc://127.0.0.1:15002", Default::default()).await?;
//! let runner = SparkNodeRunner::new(engine, NodeRegistry::with_builtins());
//! let report = Executor::new(runner)
//!     .with_max_workers(4)
//!     .run(Arc::new(ctx), "daily_etl", None, &NodeSelection::All)
//!     .await?;
//! println!("{}", serde_json::to_string_pretty(&report)?);
//! ```
#![warn(missing_docs)]

pub mod builtins;
mod command;
mod error;
mod events;
mod executor;
mod expect;
mod experiment;
mod hooks;
mod incremental;
mod lineage;
mod ml;
mod names;
mod registry;
mod report;
mod resolver;
mod retry;
mod run_id;
mod runner;
mod selection;
mod spark_runner;
mod state;
#[cfg(test)]
mod testutil;
mod validator;

pub use command::NodeCommand;
pub use error::{BoxError, Error, Result};
pub use events::{CallbackSink, ProgressEvent, ProgressSink, RunInfo};
pub use executor::Executor;
pub use expect::{ExpectationResult, analyze_expectations, job_tag as expectation_job_tag};
pub use experiment::{
    BayesOptimizer, ExperimentCommand, ExperimentReport, Proposal, SearchSpace, Trial, TrialKind,
    TrialOutcome, TrialRecord, TrialStatus, render_table,
};
pub use hooks::{
    BusOptions, BusReport, CommandHook, EventBus, EventHook, EventKind, FanoutSink, FileHook,
    FnHook, HookOptions, HookReport, HttpHook, LifecycleEvent, MetricsHook, NodeSummary,
    RunSummary, SummaryHook, render_prometheus,
};
pub use incremental::{
    AppendDecision, AppendJournal, EdgeRef, Fingerprint, FingerprintParts, IncrementalRun, LastRun,
    LastRunStatus, LoadedManifest, LoadedState, MANIFEST_VERSION, ManifestDiff, ManifestEdge,
    ManifestEdgeKind, ManifestNode, ModifiedNode, NodeKind, NodeRunState, PipelineManifest,
    PipelineRunState, Plan, PlanAction, PlanCounts, PlanMode, PlanReason, PlannedNode, Planner,
    ProjectManifest, RUN_STATE_VERSION, RunState, SelectionSpec, SessionLedger, StateDir,
    StateWarning, StateWriter, StoredError, StoredWindow,
};
pub use lineage::{
    AttemptTimings, DatasetKind, DatasetLineage, LINEAGE_SCHEMA_VERSION, LineageEntry,
    LineageOptions, LineageStoreError, LineageSummary, LineageWriter, NodeLineage, NodeRecord,
    OpenLineageHook, OpenLineageTarget, RecordedError, RowsSource, RunLineage, SchemaDiff,
    SchemaField, TypeChange, list_lineage, openlineage_run_id, read_lineage, write_lineage,
};
pub use ml::{
    FileModelRegistry, MlContext, MlNodeSettings, MlOverrides, MlPlan, MlRunInfo, MlWarning,
    ModelRecord, ModelRegistry, ModelVersionRecord,
};
pub use names::view_name;
pub use registry::{BoxFuture, NodeContext, NodeFunction, NodeOutput, NodeRegistry};
pub use report::{NodeError, NodeMlRecord, NodeResult, RunReport, RunStatus, StopReason};
pub use resolver::{DependencyGraph, DependencyResolver, EdgeKind};
pub use retry::RetryPolicy;
pub use run_id::{is_valid_run_id, new_run_id};
pub use runner::{NodeJob, NodeOutcome, NodeRunner, WrittenOutput};
pub use selection::NodeSelection;
pub use spark_runner::SparkNodeRunner;
pub use state::{NodeStatus, PipelineStatus, StateSummary, UnifiedPipelineState};
pub use validator::{PipelineValidator, ValidatedPipeline};
