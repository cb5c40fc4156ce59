//! Structured streaming: [`Session::read_stream`], [`Frame::write_stream`] and the
//! [`StreamingQuery`] handle, on the same bridge as batch calls (blocking pool, deadlines,
//! errors mapped by class; a missing Kafka or Delta package is [`Error::MissingDataSource`]).
#![expect(
    clippy::result_large_err,
    reason = "closures return the client's own `SparkError`, which is large; it is converted at once"
)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use spark_connect::streaming::Trigger;
use tauro_config::{KafkaInput, KafkaOutput, OutputMode, StreamTrigger};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::frame::{Frame, fields_of};
use crate::kafka;
use crate::rpc::RpcKind;
use crate::session::Session;

/// Extra time given to a blocking call that itself waits (await termination) beyond its own
/// timeout, for the round trip.
const AWAIT_MARGIN: Duration = Duration::from_secs(30);
/// How often [`StreamingQuery::stop`] polls for the query to become inactive.
const STOP_POLL: Duration = Duration::from_millis(250);

/// A streaming source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// New JSON-lines files in a directory.
    Json,
    /// New CSV files in a directory.
    Csv,
    /// New Parquet files in a directory.
    Parquet,
    /// New ORC files in a directory.
    Orc,
    /// New text files in a directory.
    Text,
    /// Spark's `rate` test source (`timestamp`, `value`).
    Rate,
    /// Kafka topics (needs the spark-sql-kafka package on the server).
    Kafka,
    /// A Delta table's new versions (needs the delta package on the server).
    Delta,
}

impl SourceFormat {
    /// Spark's data source name.
    pub fn as_spark(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Orc => "orc",
            Self::Text => "text",
            Self::Rate => "rate",
            Self::Kafka => "kafka",
            Self::Delta => "delta",
        }
    }

    /// File-directory sources, which need a path and an explicit schema (text excepted).
    pub fn is_file(self) -> bool {
        matches!(
            self,
            Self::Json | Self::Csv | Self::Parquet | Self::Orc | Self::Text
        )
    }
}

/// A streaming source: what [`Session::read_stream`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    /// Dataset name, for messages.
    pub name: String,
    /// The format.
    pub format: SourceFormat,
    /// Directory (file sources) or table path (Delta).
    pub path: Option<String>,
    /// DDL schema; required for file sources other than text.
    pub schema: Option<String>,
    /// Reader options (`maxFilesPerTrigger`, `kafka.bootstrap.servers`, `subscribe`, ...).
    pub options: BTreeMap<String, String>,
    /// How Kafka records are decoded into columns (Kafka sources only; `None`: Spark's raw
    /// Kafka columns).
    pub kafka: Option<KafkaInput>,
}

/// A streaming sink format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SinkFormat {
    /// Parquet files.
    Parquet,
    /// JSON-lines files.
    Json,
    /// CSV files.
    Csv,
    /// ORC files.
    Orc,
    /// A Delta table (needs the delta package on the server).
    Delta,
    /// A Kafka topic (needs the spark-sql-kafka package on the server).
    Kafka,
    /// A catalog table.
    Table,
    /// The server's console (stdout of the Spark driver).
    Console,
}

impl SinkFormat {
    /// Spark's data source name (`table` writes through `toTable`, with the default format).
    pub fn as_spark(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Orc => "orc",
            Self::Delta => "delta",
            Self::Kafka => "kafka",
            Self::Table => "table",
            Self::Console => "console",
        }
    }

    /// File sinks (parquet, json, csv, orc): append-only, micro-batch only.
    pub fn is_file(self) -> bool {
        matches!(self, Self::Parquet | Self::Json | Self::Csv | Self::Orc)
    }
}

/// A streaming sink and the query's settings: what [`Frame::write_stream`] starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSink {
    /// Dataset name, for messages.
    pub name: String,
    /// The format.
    pub format: SinkFormat,
    /// Destination directory (file and Delta sinks).
    pub path: Option<String>,
    /// Destination table (`table` sinks).
    pub table: Option<String>,
    /// Writer options (`topic`, `kafka.bootstrap.servers`, `header`, ...).
    pub options: BTreeMap<String, String>,
    /// How rows are encoded into Kafka records (Kafka sinks only; `None`: the frame is
    /// written as it is).
    pub kafka: Option<KafkaOutput>,
    /// Partition columns.
    pub partition_by: Vec<String>,
    /// Output mode.
    pub output_mode: OutputMode,
    /// Query name (unique among the server's active queries).
    pub query_name: Option<String>,
    /// Checkpoint directory; required for every sink but the console.
    pub checkpoint_location: Option<String>,
    /// Trigger.
    pub trigger: StreamTrigger,
}

/// A query's status, as Spark reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryStatus {
    /// Whether the query is running.
    pub is_active: bool,
    /// Spark's status message (`Initializing sources`, `Waiting for next trigger`, `Stopped`).
    pub message: String,
    /// Whether new data is available.
    pub is_data_available: bool,
    /// Whether a trigger is running.
    pub is_trigger_active: bool,
}

/// The exception that ended a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryException {
    /// Spark's error class, when it gave one.
    pub error_class: Option<String>,
    /// The message.
    pub message: String,
}

impl fmt::Display for QueryException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_class {
            Some(c) if !self.message.starts_with(&format!("[{c}]")) => {
                write!(f, "[{c}] {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

/// A running (or finished) streaming query. Cheap to clone.
#[derive(Clone)]
pub struct StreamingQuery {
    session: Session,
    query: spark_connect::streaming::StreamingQuery,
}

impl fmt::Debug for StreamingQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingQuery")
            .field("id", &self.query.id())
            .field("run_id", &self.query.run_id())
            .field("name", &self.query.name())
            .finish()
    }
}

fn to_trigger(t: &StreamTrigger) -> Trigger {
    match t {
        StreamTrigger::ProcessingTime(i) => Trigger::ProcessingTime(i.clone()),
        StreamTrigger::AvailableNow => Trigger::AvailableNow,
        StreamTrigger::Once => Trigger::Once,
        StreamTrigger::Continuous(i) => Trigger::Continuous(i.clone()),
    }
}

fn to_hash(options: &BTreeMap<String, String>) -> HashMap<String, String> {
    options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn decode_progress(raw: &str) -> Result<serde_json::Value> {
    serde_json::from_str(raw).map_err(|source| Error::Decode {
        what: "streaming progress".into(),
        source,
    })
}

impl Session {
    /// A streaming frame over a source. The plan is analysed at once, so a missing package
    /// (Kafka, Delta) or a bad schema is reported here rather than when the query starts.
    pub async fn read_stream(&self, source: &StreamSource) -> Result<Frame> {
        let format = source.format.as_spark();
        let missing = |field| Error::MissingField {
            dataset: source.name.clone(),
            format: format.into(),
            field,
        };
        let path = match source.format {
            f if f.is_file() || f == SourceFormat::Delta => {
                Some(source.path.clone().ok_or_else(|| missing("filepath"))?)
            }
            _ => None,
        };
        if source.format.is_file() && source.format != SourceFormat::Text {
            source.schema.as_ref().ok_or_else(|| missing("schema"))?;
        }
        let mut reader = self
            .inner
            .spark
            .read_stream()
            .format(format)
            .options(to_hash(&source.options));
        if let Some(schema) = &source.schema {
            reader = reader.schema(schema.clone());
        }
        let raw = Frame::new(self.clone(), reader.load(path.as_deref()));
        let frame = match source.format {
            SourceFormat::Kafka => kafka::decode(raw, source.kafka.as_ref(), &source.options),
            _ => raw,
        };
        let probe = frame.df().clone();
        let schema = self
            .run_with_format(
                format!("read stream `{}`", source.name),
                Some(format),
                RpcKind::AnalyzePlan,
                move || probe.schema(),
            )
            .await
            .map_err(|e| e.mask_option_values(&source.options))?;
        Ok(frame.with_known_schema(fields_of(&schema)))
    }
}

impl Frame {
    /// Starts a streaming query writing this (streaming) frame to a sink.
    pub async fn write_stream(&self, sink: &StreamSink) -> Result<StreamingQuery> {
        let format = sink.format.as_spark();
        let encoded = match sink.format {
            SinkFormat::Kafka => kafka::encode(self, sink.kafka.as_ref()),
            _ => self.clone(),
        };
        let mut writer = encoded
            .df()
            .write_stream()
            .output_mode(sink.output_mode.as_spark())
            .options(to_hash(&sink.options))
            .trigger(to_trigger(&sink.trigger));
        if sink.format != SinkFormat::Table {
            writer = writer.format(format);
        }
        if let Some(ck) = &sink.checkpoint_location {
            writer = writer.option("checkpointLocation", ck);
        } else if sink.format != SinkFormat::Console {
            return Err(Error::MissingField {
                dataset: sink.name.clone(),
                format: format.into(),
                field: "checkpoint_location",
            });
        }
        if !sink.partition_by.is_empty() {
            writer = writer.partition_by(sink.partition_by.iter().map(String::as_str).collect());
        }
        if let Some(q) = &sink.query_name {
            writer = writer.query_name(q);
        }
        let target = match sink.format {
            SinkFormat::Table => Some(sink.table.clone().ok_or(Error::MissingField {
                dataset: sink.name.clone(),
                format: format.into(),
                field: "table",
            })?),
            f if f.is_file() || f == SinkFormat::Delta => {
                Some(sink.path.clone().ok_or(Error::MissingField {
                    dataset: sink.name.clone(),
                    format: format.into(),
                    field: "filepath",
                })?)
            }
            _ => None,
        };
        let is_table = sink.format == SinkFormat::Table;
        let query = self
            .session()
            .run_with_format(
                format!("start streaming query into `{}`", sink.name),
                Some(format),
                RpcKind::ExecutePlan,
                move || match (is_table, target) {
                    (true, Some(t)) => writer.to_table(&t),
                    (_, Some(p)) => writer.start(&p),
                    (_, None) => writer.start(""),
                },
            )
            .await
            .map_err(|e| e.mask_option_values(&sink.options))?;
        Ok(StreamingQuery {
            session: self.session().clone(),
            query,
        })
    }
}

impl Session {
    /// The streaming queries active in this session (e.g. one attached with
    /// [`crate::SparkEngine::attach_session`]). Queries of other sessions are not listed.
    pub async fn active_queries(&self) -> Result<Vec<StreamingQuery>> {
        let spark = self.inner.spark.clone();
        let found = self
            .run(
                "list active streaming queries",
                RpcKind::ExecutePlan,
                move || spark.streams().active(),
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|query| StreamingQuery {
                session: self.clone(),
                query,
            })
            .collect())
    }

    /// The active streaming query of this session with this id (`None` when it is not
    /// active here: stopped, failed, or started in another session).
    pub async fn query(&self, id: &str) -> Result<Option<StreamingQuery>> {
        let spark = self.inner.spark.clone();
        let wanted = id.to_string();
        let found = self
            .run(
                format!("look up streaming query {id}"),
                RpcKind::ExecutePlan,
                move || spark.streams().get(&wanted),
            )
            .await?;
        Ok(found.map(|query| StreamingQuery {
            session: self.clone(),
            query,
        }))
    }
}

impl StreamingQuery {
    /// The query's id (stable across restarts from the same checkpoint).
    pub fn id(&self) -> &str {
        self.query.id()
    }

    /// This run's id (new at every start).
    pub fn run_id(&self) -> &str {
        self.query.run_id()
    }

    /// The query name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.query.name()
    }

    /// The session the query was started from.
    pub fn session(&self) -> &Session {
        &self.session
    }

    fn label(&self) -> String {
        self.name().unwrap_or(self.id()).to_string()
    }

    /// The query's status.
    pub async fn status(&self) -> Result<QueryStatus> {
        let q = self.query.clone();
        let s = self
            .session
            .run(
                format!("status of query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.status(),
            )
            .await?;
        Ok(QueryStatus {
            is_active: s.is_active,
            message: s.status_message,
            is_data_available: s.is_data_available,
            is_trigger_active: s.is_trigger_active,
        })
    }

    /// Whether the query is running.
    pub async fn is_active(&self) -> Result<bool> {
        Ok(self.status().await?.is_active)
    }

    /// The last micro-batch's progress (Spark's `StreamingQueryProgress` JSON).
    pub async fn last_progress(&self) -> Result<Option<serde_json::Value>> {
        let q = self.query.clone();
        let raw = self
            .session
            .run(
                format!("last progress of query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.last_progress(),
            )
            .await?;
        raw.as_deref().map(decode_progress).transpose()
    }

    /// The progress of recent micro-batches, oldest first.
    pub async fn recent_progress(&self) -> Result<Vec<serde_json::Value>> {
        let q = self.query.clone();
        let raw = self
            .session
            .run(
                format!("recent progress of query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.recent_progress(),
            )
            .await?;
        raw.iter().map(|r| decode_progress(r)).collect()
    }

    /// Waits up to `timeout` for the query to end; true when it ended. A query that failed
    /// returns its failure as an error.
    pub async fn await_termination(&self, timeout: Duration) -> Result<bool> {
        let q = self.query.clone();
        let secs = timeout.as_secs_f64().max(0.001);
        let ended = self
            .session
            .with_action_timeout(timeout + AWAIT_MARGIN)
            .run(
                format!("await termination of query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.await_termination(Some(secs)),
            )
            .await?;
        Ok(ended.unwrap_or(false))
    }

    /// Stops the query and waits up to `timeout` for it to become inactive; true when it
    /// did. A query that already ended is not an error.
    pub async fn stop(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let q = self.query.clone();
        self.session
            .with_action_timeout(timeout.max(STOP_POLL))
            .run(
                format!("stop query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.stop(),
            )
            .await?;
        loop {
            if !self.is_active().await? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(STOP_POLL).await;
        }
    }

    /// Processes everything available at the sources, then returns (tests and demos).
    pub async fn process_all_available(&self) -> Result<()> {
        let q = self.query.clone();
        self.session
            .run(
                format!("process available data of query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.process_all_available(),
            )
            .await
    }

    /// The exception that ended the query, if it failed.
    pub async fn exception(&self) -> Result<Option<QueryException>> {
        let q = self.query.clone();
        let e = self
            .session
            .run(
                format!("exception of query `{}`", self.label()),
                RpcKind::ExecutePlan,
                move || q.exception(),
            )
            .await?;
        Ok(e.map(|e| QueryException {
            error_class: Some(e.error_class).filter(|c| !c.is_empty()),
            message: e.message,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_exceptions() {
        assert!(SourceFormat::Json.is_file());
        assert!(!SourceFormat::Rate.is_file());
        assert!(SinkFormat::Csv.is_file());
        assert!(!SinkFormat::Delta.is_file());
        let e = QueryException {
            error_class: Some("X".into()),
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "[X] boom");
    }
}
