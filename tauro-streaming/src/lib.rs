//! Tauro streaming layer (layer 4 of 6: `config ← io ← exec ← streaming ← orchest ← cli`).
//!
//! Streaming nodes read with `readStream` and write with `writeStream`:
//!
//! - [`StreamingValidator`] resolves a pipeline's streaming nodes into
//!   [`StreamingNodeSpec`]s and checks them (format policy, checkpoints, trigger and
//!   output-mode combinations Spark rejects), naming each node's file and line.
//! - [`StreamingQueryManager`] starts specs (sources as temp views, the node's SQL, the
//!   sink), tracks the queries by `<pipeline>.<node>`, reports status and progress, stops
//!   them gracefully with a timeout and awaits them.
//! - [`HybridRunner`] runs a hybrid pipeline: batch nodes through the executor, then the
//!   streaming nodes until a [`StopCondition`], into a [`HybridReport`].
//!
//! Checkpoints default to `<output_path>/_checkpoints/<pipeline>/<node>`: stable across
//! runs, so a restarted query continues where it stopped.
//!
//! ```no_run
//! # async fn demo(ctx: tauro_config::Context, engine: tauro_io::SparkEngine) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tauro_streaming::{StreamingQueryManager, StreamingValidator};
//! let specs = StreamingValidator::validate_pipeline(&ctx, "events")
//!     .map_err(|issues| tauro_streaming::Error::Invalid { issues })?;
//! let manager = StreamingQueryManager::new(engine);
//! for spec in &specs {
//!     manager.start(&ctx, spec).await?;
//! }
//! manager.stop_all(Duration::from_secs(30)).await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
mod hybrid;
mod manager;
mod registry;
mod spec;
mod validator;

pub use error::{Error, Result};
pub use hybrid::{
    HybridReport, HybridRunner, HybridStatus, StopCondition, StreamReport, every_trigger_terminates,
};
pub use manager::{ProgressSink, QueryInfo, QueryProgress, StreamingQueryManager};
pub use registry::{
    REGISTRY_FILE, StreamEntry, StreamRegistry, StreamState, remote_host_port, stream_status,
    stream_stop,
};
pub use spec::{
    StreamingNodeSpec, build_spec, is_streaming_node, stream_sink_format, stream_source_format,
};
pub use validator::{IssueKind, StreamingIssue, StreamingValidator};
