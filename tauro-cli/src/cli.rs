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
    /// Stored runs: create, start, inspect, cancel (the run store).
    Run(RunArgs),
    /// Interval and cron schedules, and the scheduler that fires them.
    Schedule(ScheduleArgs),
    /// One stored run per date window, in order, with bounded concurrency; resumable.
    Backfill(BackfillArgs),
    /// The run store: statistics, cleanup, vacuum.
    Db(DbArgs),
    /// Serve /metrics, /health and the runs as JSON over HTTP (optionally with the scheduler).
    Serve(ServeArgs),
    /// Delta table maintenance of an output: vacuum, optimize, history.
    Delta(DeltaArgs),
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
    /// Spark Connect endpoint: `local` or `sc://host:port[/;use_ssl=true]`. Give the token
    /// through spark.token_env, spark.token_file or TAURO_SPARK_TOKEN rather than here.
    #[arg(long, env = "TAURO_SPARK_REMOTE")]
    pub remote: Option<String>,

    /// The kind of Spark Connect server: `spark` (Apache Spark) or `sail` (overrides
    /// spark.engine). With a `local` remote it is the server started for the run.
    #[arg(long, env = "TAURO_ENGINE", value_parser = parse_engine)]
    pub engine: Option<tauro_config::EngineKind>,

    /// Use this server-side Spark Connect session (a UUID v4) as the engine's session
    /// instead of a new one (overrides spark.session_id).
    #[arg(long)]
    pub session_id: Option<String>,

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

fn parse_engine(s: &str) -> Result<tauro_config::EngineKind, String> {
    tauro_config::EngineKind::parse(s)
        .ok_or_else(|| format!("`{s}` is not an engine: use spark or sail"))
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

/// Where runs are stored.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Run store: `postgres://user@host:5432/db`, `sqlite:path`; default: the project's
    /// `store_url` setting, else `<project>/.tauro/tauro.db` (SQLite).
    #[arg(long = "store", env = "TAURO_STORE_URL", value_name = "URL")]
    pub url: Option<String>,
}

/// How a process executes stored runs.
#[derive(Debug, Clone, Args)]
pub struct RunnerArgs {
    /// Runs executing at once in this process.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,

    /// Attempts per run (unless the run or schedule says otherwise).
    #[arg(long, default_value_t = 1)]
    pub max_attempts: u32,

    /// Seconds between attempts.
    #[arg(long, default_value_t = 5.0)]
    pub retry_delay: f64,

    /// Deadline of one attempt (`90`, `30s`, `5m`, `1h`).
    #[arg(long = "run-timeout", value_parser = parse_timeout)]
    pub run_timeout: Option<std::time::Duration>,

    /// What to do with runs left `running` by a dead process: `fail` or `requeue`.
    #[arg(long, value_enum, default_value_t = OrphanArg::Fail)]
    pub orphans: OrphanArg,

    /// A running run renews its lease this often (`5s`; at most a third of --lease).
    #[arg(long, value_parser = parse_timeout, default_value = "5s")]
    pub heartbeat: std::time::Duration,

    /// A run whose lease is older than this is orphaned: its process died (`30s`).
    #[arg(long, value_parser = parse_timeout, default_value = "30s")]
    pub lease: std::time::Duration,
}

/// `--orphans`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrphanArg {
    /// Mark them failed.
    Fail,
    /// Queue them again.
    Requeue,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: RunAction,
}

/// `run` actions.
#[derive(Debug, Subcommand)]
pub enum RunAction {
    /// Store a pending run (prints its id).
    Create {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        ml: MlArgs,
    },
    /// Execute a stored run (or create one with --pipeline and execute it) in this process.
    Start {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        runner: RunnerArgs,
        /// The run to start.
        id: String,
    },
    /// One run and its task runs.
    Status {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The run.
        id: String,
    },
    /// Runs, newest first.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Only this pipeline's.
        #[arg(long, short = 'p')]
        pipeline: Option<String>,
        /// Only runs in these states (pending, queued, running, success, failed, ...).
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// The task runs (one per node) of a run.
    Tasks {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The run.
        id: String,
    },
    /// Cancel a run (a running one stops its Spark work).
    Cancel {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The run.
        id: String,
    },
}

/// `schedule` arguments.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ScheduleAction,
}

/// `schedule` actions.
#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Add a schedule: `--every 1h` or `--cron "0 6 * * *"`.
    Add {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The pipeline to run.
        #[arg(long, short = 'p')]
        pipeline: String,
        /// An interval: `30s`, `5m`, `1h`, `1d`.
        #[arg(long, conflicts_with = "cron", required_unless_present = "cron")]
        every: Option<String>,
        /// A cron expression: 5 fields, or 6 with seconds first.
        #[arg(long)]
        cron: Option<String>,
        /// IANA time zone of the cron expression.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Runs of this schedule at once.
        #[arg(long, default_value_t = 1)]
        max_concurrency: u32,
        /// Attempts per run.
        #[arg(long, default_value_t = 1)]
        max_attempts: u32,
        /// Seconds between attempts.
        #[arg(long, default_value_t = 60.0)]
        retry_delay: f64,
        /// After downtime: `skip` missed ticks, `run_once`, or `catch_up` every one.
        #[arg(long, default_value = "run_once")]
        misfire: String,
        /// Random delay of each firing, up to this many seconds.
        #[arg(long, default_value_t = 0.0)]
        jitter: f64,
        /// The run window: `fire_date` (the day it fires), `previous_day`, or `none`
        /// (the project's default window).
        #[arg(long, default_value = "none")]
        window: String,
        #[command(flatten)]
        ml: MlArgs,
    },
    /// Schedules and their next firing.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a schedule.
    Enable {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The schedule.
        id: String,
    },
    /// Disable a schedule.
    Disable {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The schedule.
        id: String,
    },
    /// Remove a schedule.
    Remove {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// The schedule.
        id: String,
    },
    /// Run the scheduler in this process until Ctrl-C (or --for / --max-runs).
    Start {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        runner: RunnerArgs,
        /// Stop after this long (`90`, `30s`, `5m`).
        #[arg(long = "for", value_parser = parse_timeout)]
        run_for: Option<std::time::Duration>,
        /// Stop after this many runs finished.
        #[arg(long)]
        max_runs: Option<u64>,
    },
}

/// `backfill` arguments.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub runner: RunnerArgs,
    /// The pipeline.
    #[arg(long, short = 'p')]
    pub pipeline: String,
    /// First day (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD, inclusive); default: today.
    #[arg(long)]
    pub to: Option<String>,
    /// Instead of --from: this many windows ending at --to.
    #[arg(long, conflicts_with = "from")]
    pub count: Option<u32>,
    /// Window size: `day`, `week`, `month`, or a number of days.
    #[arg(long, default_value = "day")]
    pub step: String,
    /// Only create the runs (start them later, e.g. with a scheduler or `run start`).
    #[arg(long)]
    pub create_only: bool,
}

/// `db` arguments.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DbAction,
}

/// `db` actions.
#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Counts by state, schedules, size, schema version.
    Stats {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete finished runs (and their task runs) older than N days.
    Cleanup {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Age in days.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Reclaim space.
    Vacuum {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The orchestrator's metrics in the Prometheus text format (what /metrics serves).
    Metrics {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The orchestrator's health (what /health serves); exit code 1 when unhealthy.
    Health {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Runs whose lease is older than this count as orphaned.
        #[arg(long, value_parser = parse_timeout, default_value = "30s")]
        lease: std::time::Duration,
    },
}

/// `serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Port on 127.0.0.1 (0: any free port, printed).
    #[arg(long, default_value_t = 8788)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Also run the scheduler (and execute its runs) in this process.
    #[arg(long)]
    pub scheduler: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub runner: RunnerArgs,
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

    /// Also check on a Spark Connect server that expectations parse and name existing
    /// columns (queries are analysed, not run).
    #[arg(long)]
    pub spark: bool,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `delta` arguments.
#[derive(Debug, Args)]
pub struct DeltaArgs {
    #[command(subcommand)]
    pub action: DeltaAction,
}

/// The output a Delta maintenance statement runs on, and where.
#[derive(Debug, Args)]
pub struct DeltaTarget {
    /// The output (its Delta path or table).
    #[arg(value_name = "OUTPUT")]
    pub name: String,

    #[command(flatten)]
    pub project: ProjectArgs,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A Delta maintenance statement on one output's table.
#[derive(Debug, Subcommand)]
pub enum DeltaAction {
    /// VACUUM: delete files the table no longer references, older than the retention.
    Vacuum {
        #[command(flatten)]
        target: DeltaTarget,
        /// Keep files younger than this many hours (Delta's default: 168).
        #[arg(long)]
        retain_hours: Option<f64>,
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// OPTIMIZE: compact small files, optionally clustering by columns (Z-order).
    Optimize {
        #[command(flatten)]
        target: DeltaTarget,
        /// Only the partitions matching this predicate.
        #[arg(long = "where")]
        filter: Option<String>,
        /// Cluster the rewritten files by these columns.
        #[arg(long, value_delimiter = ',')]
        zorder_by: Vec<String>,
    },
    /// DESCRIBE HISTORY: the table's versions (time travel reads them with `version:`).
    History {
        #[command(flatten)]
        target: DeltaTarget,
    },
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
