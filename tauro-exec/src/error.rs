//! Errors of the execution layer.
//!
//! Configuration problems found before any Spark work (graph, registry, selection) carry the
//! [`Location`] of the item at fault. Node failures keep the io layer's error as is, so its
//! Spark error class and hint reach the CLI.

use std::time::Duration;

use tauro_config::Location;

use crate::report::RunStatus;
use crate::state::NodeStatus;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A boxed error of any kind, for node functions' own failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the execution layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No pipeline has this name.
    #[error("pipeline '{name}' not found")]
    PipelineNotFound {
        /// The name asked for.
        name: String,
        /// The pipelines of the project.
        available: Vec<String>,
        /// The closest available name, if it looks like a typo.
        suggestion: Option<String>,
    },

    /// A pipeline lists a node that no node configuration defines.
    #[error("pipeline '{pipeline}' lists node '{node}', which is not defined")]
    NodeNotDefined {
        /// The pipeline.
        pipeline: String,
        /// The node name.
        node: String,
        /// The closest defined node name.
        suggestion: Option<String>,
        /// Where the pipeline is defined.
        location: Box<Location>,
    },

    /// A pipeline lists the same node twice.
    #[error("pipeline '{pipeline}' lists node '{node}' more than once")]
    DuplicateNode {
        /// The pipeline.
        pipeline: String,
        /// The node name.
        node: String,
        /// Where the pipeline is defined.
        location: Box<Location>,
    },

    /// A node depends on a node that is not part of the pipeline.
    #[error("node '{node}' depends on '{dependency}', which is not in pipeline '{pipeline}'")]
    UnknownDependency {
        /// The pipeline.
        pipeline: String,
        /// The node with the dependency.
        node: String,
        /// The missing dependency.
        dependency: String,
        /// True when the project defines the dependency, just not in this pipeline.
        defined_elsewhere: bool,
        /// The closest node name of the pipeline.
        suggestion: Option<String>,
        /// Where the node is defined.
        location: Box<Location>,
    },

    /// The nodes of a pipeline depend on each other in a cycle.
    #[error("dependency cycle in pipeline '{pipeline}': {} (each node depends on the next)", path.join(" -> "))]
    Cycle {
        /// The pipeline.
        pipeline: String,
        /// The cycle, first node repeated at the end: `[a, b, c, a]` = a depends on b ...
        path: Vec<String>,
        /// Dependencies of the cycle that come from data (`b reads 'x', written by c`).
        implicit: Vec<String>,
        /// Where the first node of the path is defined.
        location: Box<Location>,
    },

    /// A `function:` node names a function that is not registered.
    #[error("node '{node}' uses function '{function}', which is not registered")]
    UnknownFunction {
        /// The node.
        node: String,
        /// The function name.
        function: String,
        /// The registered function names, sorted.
        registered: Vec<String>,
        /// The closest registered name.
        suggestion: Option<String>,
        /// Where the node is defined.
        location: Box<Location>,
    },

    /// A node reads a dataset that is neither an input nor an output.
    #[error("node '{node}' reads '{dataset}', which is neither an input nor an output dataset")]
    UnknownInput {
        /// The node.
        node: String,
        /// The dataset name.
        dataset: String,
        /// The closest dataset name.
        suggestion: Option<String>,
        /// Where the node is defined.
        location: Box<Location>,
    },

    /// A node writes a dataset that is not an output.
    #[error("node '{node}' writes '{dataset}', which is not an output dataset")]
    UnknownOutput {
        /// The node.
        node: String,
        /// The dataset name.
        dataset: String,
        /// The closest output name.
        suggestion: Option<String>,
        /// Where the node is defined.
        location: Box<Location>,
    },

    /// A node selected to run is not part of the pipeline.
    #[error("node '{node}' is not in pipeline '{pipeline}'")]
    UnknownSelection {
        /// The pipeline.
        pipeline: String,
        /// The selected name.
        node: String,
        /// The closest node name of the pipeline.
        suggestion: Option<String>,
        /// Where the pipeline is defined.
        location: Box<Location>,
    },

    /// The pipeline needs a date window and none was given.
    #[error("pipeline '{pipeline}' requires a start and an end date")]
    DatesRequired {
        /// The pipeline.
        pipeline: String,
        /// Where the pipeline is defined.
        location: Box<Location>,
    },

    /// Two inputs of a node map to the same temp view name.
    #[error("inputs '{first}' and '{second}' of node '{node}' both become temp view '{view}'")]
    ViewNameClash {
        /// The node.
        node: String,
        /// The first input.
        first: String,
        /// The second input.
        second: String,
        /// The view name both map to.
        view: String,
        /// Where the node is defined.
        location: Box<Location>,
    },

    /// A function name is registered twice.
    #[error("function '{name}' is already registered")]
    DuplicateFunction {
        /// The name.
        name: String,
    },

    /// A built-in function's `params` are missing or invalid.
    #[error("function '{function}': invalid params.{param}: {reason}")]
    InvalidParam {
        /// The function.
        function: String,
        /// The parameter.
        param: String,
        /// What is wrong.
        reason: String,
    },

    /// What a node function returned does not fit the node's outputs.
    #[error("node '{node}': {reason}")]
    OutputMismatch {
        /// The node.
        node: String,
        /// What does not fit.
        reason: String,
    },

    /// A SQL statement (a SQL node without outputs) uses `:start_date`/`:end_date`, which
    /// statements cannot bind yet (tauro-io runs statements without parameters).
    #[error(
        "node '{node}': a SQL statement (a node without `output`) cannot use :start_date / :end_date yet"
    )]
    StatementParameters {
        /// The node.
        node: String,
        /// Spark's answer (`UNBOUND_SQL_PARAMETER`).
        #[source]
        source: tauro_io::Error,
    },

    /// A node function failed for its own reasons.
    #[error("{message}")]
    Function {
        /// What went wrong.
        message: String,
        /// The cause, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The io layer (Spark) failed; its error class and hint are kept.
    #[error(transparent)]
    Io(#[from] tauro_io::Error),

    /// A node attempt ran past its timeout and was cancelled.
    #[error("node '{node}' did not finish within {}s and was cancelled", after.as_secs_f64())]
    Timeout {
        /// The node.
        node: String,
        /// The timeout.
        after: Duration,
    },

    /// A node attempt was cancelled (Ctrl-C, circuit breaker).
    #[error("node '{node}' was cancelled")]
    Cancelled {
        /// The node.
        node: String,
    },

    /// A node attempt panicked (a bug in a node function or runner).
    #[error("node '{node}' panicked: {message}")]
    Panicked {
        /// The node.
        node: String,
        /// The panic payload, when it was a string.
        message: String,
    },

    /// A node is not known to the pipeline state.
    #[error("node '{node}' is not registered in the pipeline state")]
    NodeNotRegistered {
        /// The node.
        node: String,
    },

    /// A node was registered twice in the pipeline state.
    #[error("node '{node}' is already registered in the pipeline state")]
    NodeAlreadyRegistered {
        /// The node.
        node: String,
    },

    /// A state change that the node's current status does not allow.
    #[error("node '{node}' cannot go from {from} to {to}")]
    InvalidTransition {
        /// The node.
        node: String,
        /// Its status.
        from: NodeStatus,
        /// The refused status.
        to: NodeStatus,
    },

    /// A `--tags` / `--exclude-tags` value that no node of the pipeline has.
    #[error("{flag} {tag}: no node of pipeline '{pipeline}' has tag '{tag}'")]
    UnknownTag {
        /// The pipeline.
        pipeline: String,
        /// `--tags` or `--exclude-tags`.
        flag: &'static str,
        /// The tag.
        tag: String,
        /// The closest tag of the pipeline.
        suggestion: Option<String>,
        /// Every tag of the pipeline, sorted.
        known: Vec<String>,
    },

    /// A `--types` value that no node of the pipeline has.
    #[error("--types {node_type}: no node of pipeline '{pipeline}' has type '{node_type}'")]
    UnknownNodeType {
        /// The pipeline.
        pipeline: String,
        /// The type.
        node_type: String,
        /// The closest type of the pipeline.
        suggestion: Option<String>,
        /// Every type of the pipeline, sorted.
        known: Vec<String>,
    },

    /// The node selection flags together select nothing.
    #[error("the selection {selection} matches no node of pipeline '{pipeline}'")]
    EmptySelection {
        /// The pipeline.
        pipeline: String,
        /// The flags (`--nodes a --tags t`).
        selection: String,
    },

    /// `resume` without a recorded run of the pipeline.
    #[error("pipeline '{pipeline}' has no recorded run to resume")]
    NoPreviousRun {
        /// The pipeline.
        pipeline: String,
    },

    /// `resume` when the last run left nothing to do.
    #[error(
        "nothing to resume: every node of run {run_id} of pipeline '{pipeline}' completed ({status})"
    )]
    NothingToResume {
        /// The pipeline.
        pipeline: String,
        /// The last run.
        run_id: String,
        /// How it ended.
        status: String,
    },

    /// An incremental run has nodes to run but was given no executor.
    #[error("pipeline '{pipeline}': {nodes} node(s) to run but no executor was given")]
    ExecutorRequired {
        /// The pipeline.
        pipeline: String,
        /// Nodes to run.
        nodes: usize,
    },

    /// A file of the project's `.tauro/` state could not be locked, read or written.
    #[error("cannot {action} {}", path.display())]
    StateFile {
        /// The file.
        path: std::path::PathBuf,
        /// `lock`, `write`, `serialise`.
        action: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A pipeline run did not succeed (see [`crate::RunReport::into_result`]).
    #[error("pipeline '{pipeline}' {status}: {reason}")]
    RunFailed {
        /// The pipeline.
        pipeline: String,
        /// `failed` or `cancelled`.
        status: RunStatus,
        /// True when the circuit breaker stopped the run.
        breaker_opened: bool,
        /// Why (failed nodes, breaker, cancellation).
        reason: String,
    },

    /// An experiment (hyperparameter search) that cannot run: no trials, an empty space, an
    /// empty or inverted range, an empty list of choices, or values that do not fit the space.
    #[error("invalid experiment: {reason}")]
    InvalidExperiment {
        /// What is wrong.
        reason: String,
    },

    /// Every trial of an experiment failed; the first failure is the cause.
    #[error("experiment failed: all {trials} trial(s) failed")]
    ExperimentFailed {
        /// Trials run.
        trials: usize,
        /// The first trial's failure.
        #[source]
        source: Box<Error>,
    },

    /// A run override (`--param k=v`, `--hyperparams '{...}'`) that cannot be read.
    #[error("invalid hyperparameter override '{text}': {reason}")]
    InvalidOverride {
        /// What was given.
        text: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// A hyperparameter whose value does not fit the type of its declared default.
    #[error(
        "hyperparameter '{name}' is {given}, but {declared_by} declares it as {expected} ({default})"
    )]
    HyperparamType {
        /// The hyperparameter.
        name: String,
        /// The given value's type (`a string`, ...).
        given: &'static str,
        /// The declared default's type.
        expected: &'static str,
        /// The declared default.
        default: String,
        /// Who declares it (`node 'train'`, `the pipeline`, `default_hyperparams`).
        declared_by: String,
    },

    /// A node declared `metrics:` it did not produce.
    #[error("node '{node}' declares metrics it did not produce: {}", missing.join(", "))]
    MissingMetrics {
        /// The node.
        node: String,
        /// Declared metrics not found.
        missing: Vec<String>,
        /// Columns (or metric names) the node's result had.
        found: Vec<String>,
    },

    /// `model_version: latest` for a model the registry has no version of.
    #[error("model '{model}' has no registered version to use as 'latest'")]
    NoModelVersion {
        /// The model.
        model: String,
    },

    /// Rows violated `fail` expectations of the node: nothing was written.
    #[error("node '{node}': expectations failed: {}", failed.join(", "))]
    ExpectationsFailed {
        /// The node.
        node: String,
        /// The failed expectations, with their counts.
        failed: Vec<String>,
        /// Every expectation's result.
        results: Vec<crate::expect::ExpectationResult>,
    },

    /// The model registry failed.
    #[error("model registry: cannot {action}")]
    ModelRegistry {
        /// What was being done.
        action: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// A node function's own failure with a message.
    pub fn function(message: impl Into<String>) -> Self {
        Self::Function {
            message: message.into(),
            source: None,
        }
    }

    /// A node function's own failure with a message and a cause.
    pub fn function_with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Function {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Where the configuration item at fault is defined, if the error is about one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::NodeNotDefined { location, .. }
            | Self::DuplicateNode { location, .. }
            | Self::UnknownDependency { location, .. }
            | Self::Cycle { location, .. }
            | Self::UnknownFunction { location, .. }
            | Self::UnknownInput { location, .. }
            | Self::UnknownOutput { location, .. }
            | Self::UnknownSelection { location, .. }
            | Self::DatesRequired { location, .. }
            | Self::ViewNameClash { location, .. } => Some(&**location),
            Self::PipelineNotFound { .. }
            | Self::DuplicateFunction { .. }
            | Self::InvalidParam { .. }
            | Self::OutputMismatch { .. }
            | Self::StatementParameters { .. }
            | Self::Function { .. }
            | Self::Io(_)
            | Self::Timeout { .. }
            | Self::Cancelled { .. }
            | Self::Panicked { .. }
            | Self::NodeNotRegistered { .. }
            | Self::NodeAlreadyRegistered { .. }
            | Self::InvalidTransition { .. }
            | Self::UnknownTag { .. }
            | Self::UnknownNodeType { .. }
            | Self::EmptySelection { .. }
            | Self::NoPreviousRun { .. }
            | Self::NothingToResume { .. }
            | Self::ExecutorRequired { .. }
            | Self::StateFile { .. }
            | Self::RunFailed { .. }
            | Self::InvalidExperiment { .. }
            | Self::ExperimentFailed { .. }
            | Self::InvalidOverride { .. }
            | Self::HyperparamType { .. }
            | Self::MissingMetrics { .. }
            | Self::NoModelVersion { .. }
            | Self::ModelRegistry { .. }
            | Self::ExpectationsFailed { .. } => None,
        }
    }

    /// A short class for reports: Spark's error class for engine failures (`PATH_NOT_FOUND`),
    /// otherwise this crate's own (`TIMEOUT`, `CANCELLED`, `FUNCTION_FAILED`, ...).
    pub fn error_class(&self) -> String {
        let own = match self {
            Self::Io(e) => return e.error_class().unwrap_or("IO_ERROR").to_string(),
            Self::PipelineNotFound { .. } => "PIPELINE_NOT_FOUND",
            Self::NodeNotDefined { .. } => "NODE_NOT_DEFINED",
            Self::DuplicateNode { .. } => "DUPLICATE_NODE",
            Self::UnknownDependency { .. } => "UNKNOWN_DEPENDENCY",
            Self::Cycle { .. } => "DEPENDENCY_CYCLE",
            Self::UnknownFunction { .. } => "UNKNOWN_FUNCTION",
            Self::UnknownInput { .. } => "UNKNOWN_INPUT",
            Self::UnknownOutput { .. } => "UNKNOWN_OUTPUT",
            Self::UnknownSelection { .. } => "UNKNOWN_SELECTION",
            Self::DatesRequired { .. } => "DATES_REQUIRED",
            Self::ViewNameClash { .. } => "VIEW_NAME_CLASH",
            Self::DuplicateFunction { .. } => "DUPLICATE_FUNCTION",
            Self::InvalidParam { .. } => "INVALID_PARAM",
            Self::OutputMismatch { .. } => "OUTPUT_MISMATCH",
            Self::StatementParameters { .. } => "UNBOUND_SQL_PARAMETER",
            Self::Function { .. } => "FUNCTION_FAILED",
            Self::Timeout { .. } => "TIMEOUT",
            Self::Cancelled { .. } => "CANCELLED",
            Self::Panicked { .. } => "PANICKED",
            Self::NodeNotRegistered { .. } => "NODE_NOT_REGISTERED",
            Self::NodeAlreadyRegistered { .. } => "NODE_ALREADY_REGISTERED",
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::UnknownTag { .. } => "UNKNOWN_TAG",
            Self::UnknownNodeType { .. } => "UNKNOWN_NODE_TYPE",
            Self::EmptySelection { .. } => "EMPTY_SELECTION",
            Self::NoPreviousRun { .. } => "NO_PREVIOUS_RUN",
            Self::NothingToResume { .. } => "NOTHING_TO_RESUME",
            Self::ExecutorRequired { .. } => "EXECUTOR_REQUIRED",
            Self::StateFile { .. } => "STATE_FILE",
            Self::RunFailed { .. } => "RUN_FAILED",
            Self::InvalidExperiment { .. } => "INVALID_EXPERIMENT",
            Self::ExperimentFailed { .. } => "EXPERIMENT_FAILED",
            Self::InvalidOverride { .. } => "INVALID_OVERRIDE",
            Self::HyperparamType { .. } => "HYPERPARAM_TYPE",
            Self::MissingMetrics { .. } => "MISSING_METRICS",
            Self::NoModelVersion { .. } => "NO_MODEL_VERSION",
            Self::ModelRegistry { .. } => "MODEL_REGISTRY",
            Self::ExpectationsFailed { .. } => "EXPECTATIONS_FAILED",
        };
        own.to_string()
    }

    /// True for problems found before any Spark work: the project or the request is wrong
    /// (CLI exit code 2), as opposed to a failure while running.
    pub fn is_validation(&self) -> bool {
        match self {
            Self::PipelineNotFound { .. }
            | Self::NodeNotDefined { .. }
            | Self::DuplicateNode { .. }
            | Self::UnknownDependency { .. }
            | Self::Cycle { .. }
            | Self::UnknownFunction { .. }
            | Self::UnknownInput { .. }
            | Self::UnknownOutput { .. }
            | Self::UnknownSelection { .. }
            | Self::DatesRequired { .. }
            | Self::ViewNameClash { .. }
            | Self::DuplicateFunction { .. }
            | Self::InvalidParam { .. }
            | Self::UnknownTag { .. }
            | Self::UnknownNodeType { .. }
            | Self::EmptySelection { .. }
            | Self::NoPreviousRun { .. }
            | Self::NothingToResume { .. }
            | Self::InvalidExperiment { .. }
            | Self::InvalidOverride { .. }
            | Self::HyperparamType { .. }
            | Self::NoModelVersion { .. } => true,
            Self::OutputMismatch { .. }
            | Self::StatementParameters { .. }
            | Self::Function { .. }
            | Self::Io(_)
            | Self::Timeout { .. }
            | Self::Cancelled { .. }
            | Self::Panicked { .. }
            | Self::NodeNotRegistered { .. }
            | Self::NodeAlreadyRegistered { .. }
            | Self::InvalidTransition { .. }
            | Self::ExecutorRequired { .. }
            | Self::StateFile { .. }
            | Self::RunFailed { .. }
            | Self::ExperimentFailed { .. }
            | Self::MissingMetrics { .. }
            | Self::ModelRegistry { .. }
            | Self::ExpectationsFailed { .. } => false,
        }
    }

    /// True when the engine could not be reached at all (CLI exit code 3).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Io(e) => e.is_unreachable(),
            _ => false,
        }
    }

    /// How to fix the problem, where we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::PipelineNotFound {
                suggestion,
                available,
                ..
            } => Some(match suggestion {
                Some(s) => format!("did you mean '{s}'?"),
                None if available.is_empty() => "the project defines no pipelines".to_string(),
                None => format!("available pipelines: {}", available.join(", ")),
            }),
            Self::NodeNotDefined { suggestion, .. } => Some(match suggestion {
                Some(s) => format!("did you mean '{s}'?"),
                None => "define the node in the nodes configuration".to_string(),
            }),
            Self::DuplicateNode { .. } => Some("list each node once".to_string()),
            Self::UnknownDependency {
                pipeline,
                dependency,
                defined_elsewhere,
                suggestion,
                ..
            } => Some(match (suggestion, defined_elsewhere) {
                (Some(s), _) => format!("did you mean '{s}'?"),
                (None, true) => {
                    format!("add '{dependency}' to the nodes of pipeline '{pipeline}'")
                }
                (None, false) => "no node of that name is defined".to_string(),
            }),
            Self::Cycle { implicit, .. } => {
                let mut hint = "remove one of these dependencies".to_string();
                if !implicit.is_empty() {
                    hint.push_str(&format!(
                        "; some come from data (a node reading another node's output): {}",
                        implicit.join("; ")
                    ));
                }
                Some(hint)
            }
            Self::UnknownFunction {
                suggestion,
                registered,
                ..
            } => {
                let names = if registered.is_empty() {
                    "none".to_string()
                } else {
                    registered.join(", ")
                };
                Some(match suggestion {
                    Some(s) => format!("did you mean '{s}'? registered functions: {names}"),
                    None => format!(
                        "register it with NodeRegistry::register; registered functions: {names}"
                    ),
                })
            }
            Self::UnknownInput { suggestion, .. } | Self::UnknownOutput { suggestion, .. } => {
                Some(match suggestion {
                    Some(s) => format!("did you mean '{s}'?"),
                    None => "declare it in the input or output configuration".to_string(),
                })
            }
            Self::UnknownSelection { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean '{s}'?"))
            }
            Self::DatesRequired { .. } => Some(
                "pass --start and --end, set start_date and end_date in the global settings, \
                 or set `requires_dates: false` on the pipeline"
                    .to_string(),
            ),
            Self::ViewNameClash { .. } => Some(
                "dots and other characters outside [A-Za-z0-9_] become '_' in view names; \
                 rename one of the datasets"
                    .to_string(),
            ),
            Self::Timeout { .. } => Some(
                "raise the node's `timeout` or the global `node_timeout_seconds`, \
                 or make the node cheaper"
                    .to_string(),
            ),
            Self::Io(e) => e.hint(),
            Self::StatementParameters { .. } => Some(
                "turn the statement into a query with an `output` (tauro writes it), or \
                 filter on dates inside the query that produces its input"
                    .to_string(),
            ),
            Self::RunFailed {
                breaker_opened: true,
                ..
            } => Some(
                "several node attempts failed in a row, which usually means the engine or a \
                 shared source is unhealthy; fix the first failure, or raise \
                 `circuit_breaker_threshold` (0 disables the breaker)"
                    .to_string(),
            ),
            Self::UnknownTag {
                suggestion, known, ..
            }
            | Self::UnknownNodeType {
                suggestion, known, ..
            } => Some(match suggestion {
                Some(s) => format!("did you mean '{s}'?"),
                None if known.is_empty() => "no node of the pipeline has any".to_string(),
                None => format!("known: {}", known.join(", ")),
            }),
            Self::EmptySelection { .. } => Some(
                "--nodes, --tags and --types intersect, then --exclude-tags removes; \
                 loosen one of them"
                    .to_string(),
            ),
            Self::NoPreviousRun { .. } => Some("run `exec` first".to_string()),
            Self::InvalidOverride { .. } => Some(
                "write `--param name=value` (value read as YAML: 16, 0.1, true, text) or \
                 `--hyperparams '{\"name\": value}'`"
                    .to_string(),
            ),
            Self::HyperparamType { expected, .. } => {
                Some(format!("give {expected}, as the declared default is"))
            }
            Self::MissingMetrics { found, .. } => Some(format!(
                "return one row with a DOUBLE column per declared metric, rows of (metric, \
                 value), or record them with NodeContext::record_metric; the result had: {}",
                if found.is_empty() {
                    "nothing".to_string()
                } else {
                    found.join(", ")
                }
            )),
            Self::ExpectationsFailed { .. } => Some(
                "fix the data or the expectation; `action: warn` records violations and writes \
                 everything, `action: drop` writes only the rows that pass"
                    .to_string(),
            ),
            Self::NoModelVersion { .. } => Some(
                "run the training pipeline first, or name a version with --model-version"
                    .to_string(),
            ),
            Self::InvalidExperiment { .. } => Some(
                "give `trials` >= 1 and at least one dimension; real, integer and log_uniform \
                 ranges need low < high (log_uniform also low > 0), categorical at least one value"
                    .to_string(),
            ),
            Self::ExperimentFailed { .. } => Some(
                "the search goes on when a trial fails, so all failing usually means the \
                 pipeline fails whatever the hyperparameters: fix the first failure"
                    .to_string(),
            ),
            Self::NothingToResume { .. } => {
                Some("run `exec` for an incremental run of what changed".to_string())
            }
            Self::StateFile { .. } => Some(
                "check the permissions of the project's .tauro directory (or delete a \
                 corrupt file there: the next run rebuilds it)"
                    .to_string(),
            ),
            Self::DuplicateFunction { .. }
            | Self::InvalidParam { .. }
            | Self::ExecutorRequired { .. }
            | Self::OutputMismatch { .. }
            | Self::Function { .. }
            | Self::Cancelled { .. }
            | Self::Panicked { .. }
            | Self::NodeNotRegistered { .. }
            | Self::NodeAlreadyRegistered { .. }
            | Self::InvalidTransition { .. }
            | Self::RunFailed { .. }
            | Self::ModelRegistry { .. } => None,
        }
    }
}

/// An error and its causes on one line (`error: cause: cause`), leaving out a cause whose
/// text the line already holds. With `first_lines`, only the first line of each part is
/// kept (Spark appends the analysed plan to analysis errors).
pub(crate) fn error_chain(error: &dyn std::error::Error, first_lines: bool) -> String {
    let part = |text: String| {
        if first_lines {
            text.lines().next().unwrap_or_default().to_string()
        } else {
            text
        }
    };
    let mut line = part(error.to_string());
    let mut cause = error.source();
    while let Some(c) = cause {
        let text = part(c.to_string());
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
