//! Tauro io layer (layer 2 of 6: `config ← io ← exec ← streaming ← orchest ← cli`).
//!
//! The one place that talks to Spark Connect. The `apache-spark-connect` client is blocking
//! on a hidden global runtime (and panics on a tokio worker thread), so every call runs on
//! the blocking pool, bounded, under a deadline, cancellable through per-session tags.
//! No other crate names `spark_connect` types.
//!
//! - [`SparkEngine`] / [`Session`] / [`Frame`]: the async facade.
//! - [`LocalServer`], [`find_spark_home`], [`warm`]: the embedded and warm local servers.
//! - [`remote`]: the connection string dialled (token from `spark.token_env` /
//!   `spark.token_file` / `TAURO_SPARK_TOKEN`, user agent, session id), never shown with
//!   its token.
//! - [`InputLoader`], [`OutputManager`]: datasets of a project's configuration (Kafka
//!   topics included: records decoded into columns and rows encoded into records).
//! - [`Session::read_stream`], [`Frame::write_stream`], [`StreamingQuery`]: structured
//!   streaming (sources, sinks, triggers, query control).
//!
//! - [`Session::rpc_stats`] / [`RpcStats`]: the RPCs a session sent, by kind, and the time
//!   spent waiting for them (counted with atomics on every call).
//!
//! Notes for callers:
//! - Give each concurrently running node its own [`Session`] ([`SparkEngine::new_session`] is
//!   cheap): temp views, confs and cancellation ([`Session::cancel`]) are per session.
//! - [`WriteReport::rows`] is counted by the write job itself through an observation on the
//!   written frame (Spark Connect reports no metrics for write commands); no extra job runs.
//! - A call whose deadline passed returns at once, but its blocking thread lives until the
//!   server answers the interrupt. A tokio runtime waits for blocking threads when it is
//!   dropped, so a program should end its runtime with `shutdown_timeout` (or exit) rather
//!   than rely on the drop when the server may have gone away.
//!
//! ```no_run
//! # async fn demo() -> tauro_io::Result<()> {
//! use tauro_io::{EngineOptions, SparkEngine};
//! let engine = SparkEngine::connect("sc://127.0.0.1:15002", EngineOptions::default()).await?;
//! let session = engine.new_session().await?;
//! let n = session.sql("SELECT * FROM range(10)").await?.count().await?;
//! assert_eq!(n, 10);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod conf;
pub mod delta;
mod engine;
mod error;
mod files;
mod frame;
mod input;
pub mod kafka;
mod liveness;
mod local;
mod metrics;
mod output;
mod probe;
mod process;
pub mod remote;
mod rpc;
mod session;
mod spark_home;
mod sql;
mod streaming;
pub mod warm;

pub use engine::{EngineOptions, SparkEngine};
pub use error::{Error, Result, SparkFailure};
pub use frame::{Frame, SchemaField};
pub use input::InputLoader;
pub use local::{LocalServer, LocalServerOptions, default_state_dir};
pub use output::{OutputManager, WriteReport};
pub use remote::{RemoteOptions, TokenSource, redact_remote};
pub use rpc::{RpcKind, RpcStats};
pub use session::{OperationTag, Session, SqlValue};
pub use spark_home::{default_venv, find_sail, find_spark_home};
pub use streaming::{
    QueryException, QueryStatus, SinkFormat, SourceFormat, StreamSink, StreamSource, StreamingQuery,
};
