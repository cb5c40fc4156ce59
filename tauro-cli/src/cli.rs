//! Command-line definition (clap). Every setting follows flag > environment variable > file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run data pipelines described in YAML on Apache Spark through Spark Connect.
#[derive(Debug, Parser)]
#[command(name = "tauro-cli", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true)]
    pub output: OutputFormat,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Human text or machine-readable JSON on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text for people.
    Human,
    /// One JSON document on stdout.
    Json,
}

/// Where the project is and which environment to load.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// Project directory or settings file. Default: found by walking up from the current directory.
    #[arg(long, env = "TAURO_PROJECT")]
    pub project: Option<PathBuf>,

    /// Environment (base, dev, prod, ...).
    #[arg(long, env = "TAURO_ENV")]
    pub env: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: by default only what changed since the last run (see `plan`).
    Exec(ExecArgs),
    /// Print what `exec` would run and why, without running anything.
    Plan(PlanArgs),
    /// Re-run only the nodes that failed or never ran in the pipeline's last run.
    Resume(ResumeArgs),
    /// Show what runs did to the data (schemas, rows, timings).
    Lineage(LineageArgs),
    /// Load and validate the project (no Spark needed).
    Validate(ValidateArgs),
    /// List pipelines (or the nodes of one pipeline).
    List(ListArgs),
    /// Print a pipeline's dependency graph as Mermaid or DOT.
    Graph(GraphArgs),
    /// Manage a warm local Spark Connect server kept between runs.
    Spark(SparkArgs),
    /// Streaming queries left running by `exec --mode async`.
    Stream(StreamArgs),
    /// Search a pipeline's hyperparameters (its `experiment:` block) by Bayesian optimisation.
    Experiment(ExperimentArgs),
}

/// Which nodes a run considers, and whether unchanged nodes are reused.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Run every selected node, changed or not (default: only what changed, plus downstream).
    #[arg(long)]
    pub full: bool,

    /// These nodes and everything downstream of them; `+name` adds its upstream too.
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,

    /// Only nodes carrying one of these tags.
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Leave out nodes carrying one of these tags.
    #[arg(long, value_delimiter = ',')]
    pub exclude_tags: Vec<String>,

    /// Only nodes of these `type`s.
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,

    /// Run exactly these nodes (repeatable), nothing downstream; their inputs must exist.
    #[arg(long = "node")]
    pub only: Vec<String>,
}

/// The pipeline and date window of a run.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// The pipeline.
    #[arg(long, short = 'p')]
    pub pipeline: String,

    /// First day of the run window (YYYY-MM-DD). Default: the project's start_date.
    #[arg(long)]
    pub start: Option<String>,

    /// Last day of the run window (YYYY-MM-DD, inclusive). Default: the start date.
    #[arg(long)]
    pub end: Option<String>,
}

/// Hyperparameters and model version of a run (ML nodes).
#[derive(Debug, Clone, Default, Args)]
pub struct MlArgs {
    /// Hyperparameters as a JSON object; they win over node and pipeline values.
    #[arg(long, value_name = "JSON")]
    pub hyperparams: Option<String>,

    /// One hyperparameter, `name=value` (value typed as YAML: 16, 0.1, true, text);
    /// repeatable; applied after --hyperparams.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,

    /// The model version of the run (default: the pipeline's `model_version`, else the
    /// global `default_model_version`; `latest` = the last registered version).
    #[arg(long)]
    pub model_version: Option<String>,
}

impl MlArgs {
    /// The run overrides these arguments give.
    pub fn overrides(&self) -> Result<tauro_exec::MlOverrides, tauro_exec::Error> {
        let mut o = tauro_exec::MlOverrides::new();
        if let Some(json) = &self.hyperparams {
            o.merge_json(json)?;
        }
        for p in &self.params {
            o.merge_param(p)?;
        }
        o.model_version = self.model_version.clone();
        Ok(o)
    }
}

/// How a run talks to Spark and handles failures.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Spark Connect endpoint: `local` or `sc://host:port[/;token=...]`.
    #[arg(long, env = "TAURO_SPARK_REMOTE")]
    pub remote: Option<String>,

    /// Nodes running at the same time.
    #[arg(long)]
    pub max_workers: Option<usize>,

    /// Keep running independent branches after a node fails; its dependents are skipped.
    #[arg(long)]
    pub continue_on_error: bool,

    /// Retries per failed node (exponential backoff with jitter).
    #[arg(long)]
    pub retry: Option<u32>,

    /// Extra lineage to record: `sample` keeps a few sample rows of each output.
    #[arg(long, value_enum)]
    pub track: Vec<Track>,
}

/// Optional lineage detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Track {
    /// Sample rows of each node's output.
    Sample,
}

/// `exec` arguments.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub ml: MlArgs,

    /// Print the plan and stop (same as `plan`).
    #[arg(long)]
    pub dry_run: bool,

    /// Streaming and hybrid pipelines: stop once every query has processed what is
    /// available (the default when every streaming node has an available-now or once trigger).
    #[arg(long)]
    pub until_available: bool,

    /// Streaming and hybrid pipelines: stop the queries after this long (`90`, `30s`, `5m`, `1h`).
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,

    /// Streaming and hybrid pipelines: `sync` waits for the stop condition; `async` returns
    /// once the queries run (see `tauro-cli stream status|stop`).
    #[arg(long, value_enum, default_value_t = StreamMode::Sync)]
    pub mode: StreamMode,
}

/// How `exec` treats streaming queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamMode {
    /// Wait for the stop condition, then stop the queries.
    Sync,
    /// Leave the queries running on the server and return.
    Async,
}

/// `stream` arguments.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: StreamAction,
}

/// `stream` actions.
#[derive(Debug, Subcommand)]
pub enum StreamAction {
    /// Status and last progress of a pipeline's running queries.
    Status {
        #[command(flatten)]
        project: ProjectArgs,
        /// The pipeline.
        #[arg(long, short = 'p')]
        pipeline: String,
        /// Spark Connect endpoint the queries run on.
        #[arg(long, env = "TAURO_SPARK_REMOTE")]
        remote: Option<String>,
    },
    /// Stop a pipeline's running queries gracefully.
    Stop {
        #[command(flatten)]
        project: ProjectArgs,
        /// The pipeline.
        #[arg(long, short = 'p')]
        pipeline: String,
        /// Spark Connect endpoint the queries run on.
        #[arg(long, env = "TAURO_SPARK_REMOTE")]
        remote: Option<String>,
        /// How long each query may take to stop.
        #[arg(long, value_parser = parse_timeout, default_value = "60s")]
        timeout: std::time::Duration,
    },
}

/// `90` (seconds), `30s`, `5m`, `1h`.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90, 30s, 5m or 1h"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" | "seconds" => n,
        "m" | "min" | "mins" | "minutes" => n * 60,
        "h" | "hours" => n * 3600,
        other => return Err(format!("unknown unit '{other}' (use s, m or h)")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub select: SelectArgs,
}

/// `experiment` arguments.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Fixed hyperparameters for every trial (the searched ones are set per trial).
    #[command(flatten)]
    pub ml: MlArgs,

    /// Number of trials (default: the experiment's `trials`).
    #[arg(long)]
    pub trials: Option<u32>,

    /// Random seed (default: the experiment's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Also write the experiment's JSON here (it is always written to
    /// `<project>/.tauro/experiments/`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// `resume` arguments.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// The pipeline whose last run to resume.
    #[arg(long, short = 'p')]
    pub pipeline: String,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Print what would run and stop.
    #[arg(long)]
    pub dry_run: bool,
}

/// `lineage` arguments.
#[derive(Debug, Args)]
pub struct LineageArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: LineageAction,
}

/// `lineage` actions.
#[derive(Debug, Subcommand)]
pub enum LineageAction {
    /// Print one run's lineage as a table (`latest` for the newest run).
    Show {
        #[command(flatten)]
        project: ProjectArgs,
        /// The run id, or `latest`.
        run_id: String,
    },
    /// List the runs that have lineage.
    List {
        #[command(flatten)]
        project: ProjectArgs,
    },
}

/// `validate` arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// Validate only this pipeline (default: all).
    #[arg(long, short = 'p')]
    pub pipeline: Option<String>,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// List the nodes of this pipeline in execution order.
    #[arg(long, short = 'p')]
    pub pipeline: Option<String>,
}

/// Graph notations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// `graph` arguments.
#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub project: ProjectArgs,

    /// The pipeline to draw.
    #[arg(long, short = 'p')]
    pub pipeline: String,

    /// Notation.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// `spark` arguments.
#[derive(Debug, Args)]
pub struct SparkArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: SparkAction,
}

/// `spark` actions.
#[derive(Debug, Subcommand)]
pub enum SparkAction {
    /// Start a warm local Spark Connect server (used by runs with `spark.remote: local`).
    Start {
        /// Port (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Spark master for the server.
        #[arg(long, default_value = "local[2]")]
        master: String,
    },
    /// Stop the warm server.
    Stop,
    /// Is a warm server running?
    Status,
}
