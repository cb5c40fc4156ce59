//! Tauro configuration (layer 1 of 6: `config ← io ← exec ← streaming ← orchest ← cli`).
//!
//! Loads a project's five sources (global settings, pipelines, nodes, input, output), merges
//! an environment over `base` key by key, interpolates `${…}` variables and validates
//! everything into a typed [`Context`]. Pure: no network, no Spark.
//!
//! A project is a directory with a settings file (`settings_yml.json`, `settings_json.json`
//! or `settings.json`) naming the documents of each environment:
//!
//! ```json
//! { "base_path": ".",
//!   "env_config": {
//!     "base": { "global_settings_path": "config/global_settings.yaml",
//!               "pipelines_config_path": "config/pipelines.yaml",
//!               "nodes_config_path": "config/nodes.yaml",
//!               "input_config_path": "config/input.yaml",
//!               "output_config_path": "config/output.yaml" },
//!     "dev": { "global_settings_path": "config/dev/global_settings.yaml" } } }
//! ```
//!
//! ```no_run
//! use tauro_config::{load_project, LoadOptions};
//!
//! let ctx = load_project(&LoadOptions::new("examples/daily_etl").with_env("dev"))?;
//! let pipeline = ctx.pipeline("daily_etl")?;
//! let window = ctx.window_for(None, None)?;
//! println!("{} nodes, window {window:?}", pipeline.nodes.len());
//! # Ok::<(), tauro_config::Error>(())
//! ```
//!
//! Embedders can skip files:
//!
//! ```
//! use serde_json::json;
//! use tauro_config::{Context, Sources};
//!
//! let sources = Sources::new(
//!     json!({"input_path": "/data", "output_path": "/out"}),
//!     json!({"daily": {"nodes": ["copy"]}}),
//!     json!({"copy": {"input": ["raw"], "output": ["clean"], "sql": "SELECT * FROM raw"}}),
//!     json!({"raw": {"format": "csv", "filepath": "raw.csv"}}),
//!     json!({"clean": {"format": "parquet", "filepath": "clean"}}),
//! );
//! let ctx = Context::from_sources(sources, "base")?;
//! assert_eq!(ctx.inputs["raw"].filepath.as_deref(), Some("/data/raw.csv"));
//! # Ok::<(), tauro_config::Error>(())
//! ```
#![warn(missing_docs)]

mod build;
mod context;
mod dates;
pub mod delta;
mod descriptor;
mod diag;
pub mod engine;
pub mod error;
pub mod expectations;
mod fields;
mod formats;
mod global;
mod hooks;
mod inputs;
mod interp;
mod kafka;
mod load;
mod merge;
pub mod ml;
mod ml_parse;
pub mod model;
mod nodes;
mod outputs;
mod parse;
mod paths;
mod pipelines;
pub mod redact;
mod streaming;
mod suggest;
mod tree;

pub use dates::parse_date;
pub use descriptor::discover_project;
pub use engine::EngineKind;
pub use error::{Diagnostic, Error, Result};
pub use expectations::{Expectation, ExpectationAction, ExpectationCheck};
pub use hooks::{
    DEFAULT_HOOK_PRIORITY, DEFAULT_HOOK_TIMEOUT, HOOK_EVENTS, HookConfig, HookTarget,
    LineageSettings, OpenLineageSettings, OpenLineageTargetConfig,
};
pub use kafka::{KafkaFormat, KafkaInput, KafkaKey, KafkaOutput};
pub use load::{EnvSources, LoadOptions, Source, Sources, load_project};
pub use ml::{Dimension, Direction, ExperimentConfig, PipelineMl};
pub use model::*;
pub use streaming::{
    OutputMode, StreamTrigger, StreamingSettings, default_checkpoint, parse_interval,
};

/// The largest configuration document (or SQL file) accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = parse::MAX_DOCUMENT_BYTES;
