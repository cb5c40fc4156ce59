//! Typed configuration model: what a loaded and validated project looks like.
//!
//! Every item that comes from a file carries a [`Location`] so that later layers (the
//! executor's validator, the CLI) can point the user at the file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::Serialize;

/// Where a configuration item was defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file, or a label such as `<memory:nodes>` for in-memory sources.
    pub file: PathBuf,
    /// 1-based line; 0 when unknown.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file.display(), self.line)
        } else {
            write!(f, "{}", self.file.display())
        }
    }
}

/// An inclusive window of run dates, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateWindow {
    /// First day of the window.
    pub start: NaiveDate,
    /// Last day of the window (inclusive).
    pub end: NaiveDate,
}

/// A fully loaded, merged, interpolated and validated project for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The environment the project was loaded for (`base`, `dev`, `prod`, ...).
    pub env: String,
    /// The project's root directory (the directory of the settings file).
    pub project_dir: PathBuf,
    /// Global settings.
    pub global: GlobalSettings,
    /// Pipelines by name, in file order.
    pub pipelines: IndexMap<String, PipelineConfig>,
    /// Nodes by name, in file order.
    pub nodes: IndexMap<String, NodeConfig>,
    /// Input datasets by name, in file order.
    pub inputs: IndexMap<String, InputConfig>,
    /// Output datasets by name, in file order.
    pub outputs: IndexMap<String, OutputConfig>,
}

/// Global settings (Tauro's `global_settings` document).
#[derive(Debug, Clone, Serialize)]
pub struct GlobalSettings {
    /// `project_name`.
    pub project_name: String,
    /// `input_path`: base for relative input paths.
    pub input_path: String,
    /// `output_path`: base for relative and derived output paths.
    pub output_path: String,
    /// `mode`: `local`, `databricks` or `distributed` (kept for compatibility).
    pub mode: String,
    /// `spark:` section plus Tauro's `spark_config` map.
    pub spark: SparkSettings,
    /// `start_date`: fallback window start.
    pub start_date: Option<NaiveDate>,
    /// `end_date`: fallback window end.
    pub end_date: Option<NaiveDate>,
    /// `max_workers` (alias `max_parallel_nodes`), default 4.
    pub max_workers: usize,
    /// `max_retries`, default 0 for batch nodes.
    pub max_retries: u32,
    /// `retry_delay` in seconds (base of exponential backoff), default 1.0.
    pub retry_delay: Duration,
    /// `node_timeout_seconds`, default none.
    pub node_timeout: Option<Duration>,
    /// `circuit_breaker_threshold`: consecutive node failures that stop the run, default 5.
    pub circuit_breaker_threshold: u32,
    /// `continue_on_error`, default false.
    pub continue_on_error: bool,
    /// `hooks`: where lifecycle events go (files, URLs, commands, metrics files).
    pub hooks: Vec<crate::hooks::HookConfig>,
    /// `lineage`: per-node lineage tracking and OpenLineage export.
    pub lineage: crate::hooks::LineageSettings,
    /// Every other setting, as given (used for `${setting}` interpolation and by embedders).
    pub extra: IndexMap<String, serde_json::Value>,
}

/// Spark Connect settings. `Debug` masks secrets (a token in `remote`, secret-looking
/// `config` keys); no token is ever stored here, only where to read it.
#[derive(Clone, Serialize)]
pub struct SparkSettings {
    /// `spark.remote`: `local` (default; start an embedded server) or `sc://host:port/;params`.
    pub remote: String,
    /// `spark.token_env`: the environment variable holding the Spark Connect token, read
    /// when connecting. Without it (and without `token_file` or a token in `remote`),
    /// `TAURO_SPARK_TOKEN` is used when it is set.
    pub token_env: Option<String>,
    /// `spark.token_file`: a file holding the token (surrounding whitespace trimmed), read
    /// when connecting; relative paths are taken against the project directory.
    pub token_file: Option<PathBuf>,
    /// `spark.session_id`: a server-side session (a UUID v4) to use instead of a new one,
    /// e.g. to reattach to a session another client made.
    pub session_id: Option<String>,
    /// Spark SQL confs set on every session (`spark_config` / `spark.config`).
    pub config: BTreeMap<String, String>,
    /// How long to wait for a server to answer before reporting it unreachable (default 15 s).
    pub connect_timeout: Duration,
    /// Deadline for one Spark action (default 1 hour).
    pub action_timeout: Duration,
    /// Master for the embedded local server (default `local[2]`).
    pub local_master: String,
    /// `spark.engine`: the kind of server, `spark` (default) or `sail`; with `remote: local`
    /// it is the server started for the run.
    pub engine: crate::engine::EngineKind,
    /// `spark.catalog: persistent` (default `memory`): the embedded local Spark server keeps
    /// its catalog (a Derby metastore and the warehouse) under `<project>/.tauro/catalog`, so
    /// tables survive a restart.
    pub persistent_catalog: bool,
}

impl fmt::Debug for SparkSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field must be added here too (and masked if secret).
        let Self {
            remote,
            token_env,
            token_file,
            session_id,
            config,
            connect_timeout,
            action_timeout,
            local_master,
            engine,
            persistent_catalog,
        } = self;
        let config = crate::redact::mask_secrets(config);
        f.debug_struct("SparkSettings")
            .field("remote", &crate::redact::redact_url(remote))
            .field("token_env", token_env)
            .field("token_file", token_file)
            .field("session_id", session_id)
            .field("config", &config)
            .field("connect_timeout", connect_timeout)
            .field("action_timeout", action_timeout)
            .field("local_master", local_master)
            .field("engine", engine)
            .field("persistent_catalog", persistent_catalog)
            .finish()
    }
}

/// The kind of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineType {
    /// Batch (the default).
    Batch,
    /// Machine learning.
    Ml,
    /// Streaming.
    Streaming,
    /// Batch first, then streaming.
    Hybrid,
}

/// A pipeline: a named set of nodes.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineConfig {
    /// Pipeline name (its key).
    pub name: String,
    /// Node names, in the order given.
    pub nodes: Vec<String>,
    /// `type`, default batch.
    pub pipeline_type: PipelineType,
    /// `description`.
    pub description: Option<String>,
    /// `requires_dates`, default true.
    pub requires_dates: bool,
    /// `max_workers` override for this pipeline.
    pub max_workers: Option<usize>,
    /// `hyperparams`, `model_version`, `model_name`, `experiment`.
    pub ml: crate::ml::PipelineMl,
    /// Where the pipeline was defined.
    pub location: Location,
}

/// What a node computes: exactly one of `sql`, `sql_file`, `function`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeCompute {
    /// `sql:` inline text, or `sql_file:` (text read at load time, path kept).
    Sql {
        /// The SQL text.
        text: String,
        /// The file it came from, for `sql_file`.
        file: Option<PathBuf>,
    },
    /// `function:` a name registered in the executor's node registry.
    Function {
        /// The registered name.
        name: String,
    },
}

/// A node of a pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct NodeConfig {
    /// Node name (its key).
    pub name: String,
    /// `input`: input dataset names or outputs of other nodes, in order.
    pub input: Vec<String>,
    /// `output`: output dataset names.
    pub output: Vec<String>,
    /// `dependencies`, normalised to names.
    pub dependencies: Vec<String>,
    /// What the node computes.
    pub compute: NodeCompute,
    /// `params`: free-form arguments for function nodes.
    pub params: IndexMap<String, serde_json::Value>,
    /// `hyperparams`.
    pub hyperparams: IndexMap<String, serde_json::Value>,
    /// `metrics`.
    pub metrics: Vec<String>,
    /// `model_version`.
    pub model_version: Option<String>,
    /// `expectations`: data quality checks of its output.
    pub expectations: Vec<crate::expectations::Expectation>,
    /// `model`: what the node trains or uses (`{name, type, ...}`; a bare string is the name).
    pub model: Option<IndexMap<String, serde_json::Value>>,
    /// `description`.
    pub description: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `type` (free text, e.g. `transform`, `ml`).
    pub node_type: Option<String>,
    /// `timeout` in seconds.
    pub timeout: Option<Duration>,
    /// `retries` override.
    pub retries: Option<u32>,
    /// `streaming`: trigger, output mode, checkpoint, query name (streaming nodes only).
    pub streaming: Option<crate::streaming::StreamingSettings>,
    /// Where the node was defined.
    pub location: Location,
}

/// Storage format of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// CSV files.
    Csv,
    /// JSON lines files.
    Json,
    /// Parquet.
    Parquet,
    /// ORC.
    Orc,
    /// Avro (needs the spark-avro package on the server).
    Avro,
    /// Plain text (one `value` column).
    Text,
    /// Delta Lake (needs the delta package on Spark; native on Sail).
    Delta,
    /// A catalog table (`table:` names it).
    Table,
    /// A SQL query (inputs only; `query:` holds it).
    Query,
    /// Kafka topics, read and written in batch and streaming nodes (needs the
    /// spark-sql-kafka package on the server).
    Kafka,
    /// Spark's `rate` test source (inputs of streaming nodes only).
    Rate,
    /// The server's console (outputs of streaming nodes only).
    Console,
}

impl DataFormat {
    /// The Spark data source name (`table`/`query` have none).
    pub fn spark_source(self) -> Option<&'static str> {
        match self {
            Self::Csv => Some("csv"),
            Self::Json => Some("json"),
            Self::Parquet => Some("parquet"),
            Self::Orc => Some("orc"),
            Self::Avro => Some("avro"),
            Self::Text => Some("text"),
            Self::Delta => Some("delta"),
            Self::Kafka => Some("kafka"),
            Self::Rate => Some("rate"),
            Self::Console => Some("console"),
            Self::Table | Self::Query => None,
        }
    }
}

/// An input dataset (`input` document).
#[derive(Debug, Clone, Serialize)]
pub struct InputConfig {
    /// Dataset name (its key).
    pub name: String,
    /// `format`.
    pub format: DataFormat,
    /// `filepath` (alias `path`), interpolated; relative paths are resolved against
    /// `input_path`, then the project directory.
    pub filepath: Option<String>,
    /// `table` for `format: table`.
    pub table: Option<String>,
    /// `query` for `format: query`.
    pub query: Option<String>,
    /// `options`, passed to the reader (values stringified).
    pub options: BTreeMap<String, String>,
    /// `schema`: an explicit DDL schema.
    pub schema: Option<String>,
    /// `date_column`: when set, rows are filtered to the run's date window.
    pub date_column: Option<String>,
    /// `partition_filter`: a SQL predicate applied after reading.
    pub partition_filter: Option<String>,
    /// `expectations`: data quality checks run when the input is loaded (for sources the team
    /// does not own).
    pub expectations: Vec<crate::expectations::Expectation>,
    /// How records are decoded, for `format: kafka` (`None` for other formats).
    pub kafka: Option<crate::kafka::KafkaInput>,
    /// Where the input was defined.
    pub location: Location,
}

/// How an output is written when data already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Replace (with `partition_by`: replace only the partitions written).
    Overwrite,
    /// Add rows.
    Append,
    /// Do nothing if the destination exists.
    Ignore,
    /// Fail if the destination exists.
    Error,
    /// Upsert on `merge_keys` (Delta outputs; SQL `MERGE INTO`): matching rows are updated,
    /// the others inserted.
    Merge,
}

impl WriteMode {
    /// The Spark save mode string.
    pub fn as_spark(self) -> &'static str {
        match self {
            Self::Overwrite => "overwrite",
            Self::Append => "append",
            Self::Ignore => "ignore",
            Self::Error => "error",
            // Not a save mode: a merge into nothing creates the table, and never over an
            // existing one.
            Self::Merge => "error",
        }
    }

    /// Its configuration name (`overwrite`, …, `merge`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            other => other.as_spark(),
        }
    }
}

/// An output dataset (`output` document).
#[derive(Debug, Clone, Serialize)]
pub struct OutputConfig {
    /// Dataset name (its key).
    pub name: String,
    /// `format`.
    pub format: DataFormat,
    /// Resolved destination path: `filepath` (alias `path`) if given, relative to
    /// `output_path`; otherwise Tauro's `<output_path>/<env>/<schema>/<sub_folder>/<table>`
    /// for a three-part key. `None` for table outputs.
    pub filepath: Option<String>,
    /// `table`: register (or write) a catalog table with this name.
    pub table: Option<String>,
    /// `table_format`: the storage format of a table output (default parquet).
    pub table_format: Option<DataFormat>,
    /// `write_mode` (alias `mode`), default overwrite.
    pub write_mode: WriteMode,
    /// `partition_by` (aliases `partition`, `partition_col`, `partition_columns`).
    pub partition_by: Vec<String>,
    /// `options`, passed to the writer.
    pub options: BTreeMap<String, String>,
    /// How rows become records, for `format: kafka` (`None` for other formats).
    pub kafka: Option<crate::kafka::KafkaOutput>,
    /// Merge keys and table properties, for Delta outputs (`None` for other formats).
    pub delta: Option<crate::delta::DeltaOutput>,
    /// Where the output was defined.
    pub location: Location,
}

impl OutputConfig {
    /// The format the data is stored in: `table_format` (default parquet) for `format: table`,
    /// else `format`.
    pub fn stored_format(&self) -> DataFormat {
        match self.format {
            DataFormat::Table => self.table_format.unwrap_or(DataFormat::Parquet),
            other => other,
        }
    }
}
