//! [`StreamingQueryManager`]: starts streaming nodes and tracks their queries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tauro_config::Context;
use tauro_io::{InputLoader, QueryException, QueryStatus, Session, SparkEngine, StreamingQuery};
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::spec::StreamingNodeSpec;
use crate::validator::StreamingValidator;

/// One micro-batch's progress, as the watcher reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryProgress {
    /// The query key (`<pipeline>.<node>`).
    pub key: String,
    /// The micro-batch id.
    pub batch_id: i64,
    /// Rows read in the batch.
    pub input_rows: u64,
    /// Rows per second arriving at the sources.
    pub input_rows_per_second: f64,
    /// Rows per second processed.
    pub processed_rows_per_second: f64,
    /// Wall time of the batch, in milliseconds.
    pub batch_duration_ms: u64,
    /// Spark's timestamp of the batch.
    pub timestamp: String,
}

impl QueryProgress {
    /// Reads the fields of Spark's `StreamingQueryProgress` JSON; `None` if it has no
    /// batch id.
    pub fn from_json(key: &str, p: &serde_json::Value) -> Option<QueryProgress> {
        // Spark's JSON has the row counts per source; the top-level totals that PySpark
        // shows are derived (sums over the sources), so they are summed here too.
        let total = |k: &str| match p.get(k).and_then(serde_json::Value::as_f64) {
            Some(v) => v,
            None => p
                .get("sources")
                .and_then(serde_json::Value::as_array)
                .map(|s| {
                    s.iter()
                        .filter_map(|s| s.get(k).and_then(serde_json::Value::as_f64))
                        .sum()
                })
                .unwrap_or(0.0),
        };
        Some(QueryProgress {
            key: key.to_string(),
            batch_id: p.get("batchId")?.as_i64()?,
            input_rows: to_count(total("numInputRows")),
            input_rows_per_second: total("inputRowsPerSecond"),
            processed_rows_per_second: total("processedRowsPerSecond"),
            batch_duration_ms: p
                .get("batchDuration")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
            timestamp: p
                .get("timestamp")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

/// A non-negative whole count from a JSON number (Spark writes -1 for "unknown").
fn to_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        // Row counts fit comfortably in f64's exact integer range.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked non-negative and finite; counts are whole numbers"
        )]
        let n = v.round() as u64;
        n
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_totals_are_summed_over_sources() {
        let p = serde_json::json!({
            "batchId": 3, "batchDuration": 250, "timestamp": "t",
            "sources": [
                {"numInputRows": 6, "inputRowsPerSecond": 1.5, "processedRowsPerSecond": 24.0},
                {"numInputRows": 4, "inputRowsPerSecond": 0.5, "processedRowsPerSecond": 1.0}
            ]
        });
        let q = QueryProgress::from_json("p.n", &p);
        assert_eq!(
            q.as_ref()
                .map(|q| (q.batch_id, q.input_rows, q.batch_duration_ms)),
            Some((3, 10, 250))
        );
        assert_eq!(q.map(|q| q.processed_rows_per_second), Some(25.0));
        assert_eq!(
            QueryProgress::from_json("p.n", &serde_json::json!({})),
            None
        );
    }
}

/// Receives progress from the watcher (events, a terminal line, ...).
pub trait ProgressSink: Send + Sync {
    /// A micro-batch finished.
    fn on_progress(&self, progress: &QueryProgress);
    /// The query ended (stopped, finished or failed).
    fn on_terminated(&self, key: &str, exception: Option<&QueryException>);
}

/// A tracked query, as [`StreamingQueryManager::list`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryInfo {
    /// `<pipeline>.<node>`.
    pub key: String,
    /// Spark's query id.
    pub id: String,
    /// Spark's run id.
    pub run_id: String,
    /// The query name.
    pub name: Option<String>,
    /// The checkpoint location.
    pub checkpoint: Option<String>,
}

#[derive(Debug, Clone)]
struct Tracked {
    info: QueryInfo,
    query: StreamingQuery,
}

/// Starts streaming nodes and tracks their queries by `<pipeline>.<node>`.
///
/// Watchers are owned by the manager and end when their query ends, on
/// [`StreamingQueryManager::stop_all`], or when the manager is dropped.
#[derive(Debug)]
pub struct StreamingQueryManager {
    engine: SparkEngine,
    queries: Mutex<BTreeMap<String, Tracked>>,
    watchers: tokio::sync::Mutex<JoinSet<()>>,
    registry: Option<std::sync::Arc<tauro_exec::NodeRegistry>>,
}

impl StreamingQueryManager {
    /// A manager starting queries on `engine` (one session per query).
    pub fn new(engine: SparkEngine) -> Self {
        Self {
            engine,
            queries: Mutex::new(BTreeMap::new()),
            watchers: tokio::sync::Mutex::new(JoinSet::new()),
            registry: None,
        }
    }

    /// Node functions for streaming nodes with `function:` instead of SQL.
    pub fn with_registry(mut self, registry: std::sync::Arc<tauro_exec::NodeRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    fn tracked(&self) -> BTreeMap<String, Tracked> {
        self.queries
            .lock()
            .map(|q| q.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn with_queries<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Tracked>) -> T) -> T {
        match self.queries.lock() {
            Ok(mut q) => f(&mut q),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn get(&self, key: &str) -> Result<StreamingQuery> {
        self.tracked()
            .get(key)
            .map(|t| t.query.clone())
            .ok_or_else(|| Error::UnknownQuery { key: key.into() })
    }

    /// Runs the node's registered function over its input frames (streaming and static, in
    /// `input` order); its single output frame is the stream to write.
    async fn call_function(
        &self,
        ctx: &Context,
        spec: &StreamingNodeSpec,
        name: &str,
        session: &Session,
        mut frames: std::collections::HashMap<String, tauro_io::Frame>,
    ) -> Result<tauro_io::Frame> {
        let unsupported = || Error::UnsupportedCompute {
            node: spec.node.clone(),
            location: Box::new(spec.location.clone()),
        };
        let function = self
            .registry
            .as_ref()
            .and_then(|r| r.get(name))
            .ok_or_else(unsupported)?;
        let job = tauro_exec::NodeJob::new(
            std::sync::Arc::new(ctx.clone()),
            &spec.node,
            spec.pipeline.as_str(),
            None,
            1,
            tokio_util::sync::CancellationToken::new(),
        )
        .ok_or_else(unsupported)?;
        let inputs = spec
            .inputs
            .iter()
            .filter_map(|i| frames.remove(i))
            .collect();
        let context = tauro_exec::NodeContext::new(job, session.clone());
        match function.call(context, inputs).await? {
            tauro_exec::NodeOutput::Frame(frame) => Ok(frame),
            _ => Err(unsupported()),
        }
    }

    /// Starts a streaming node: checks it (alone and against the running queries'
    /// checkpoints), reads its sources as temp views of a fresh session (static inputs
    /// through the input loader), runs its SQL and starts the sink.
    pub async fn start(&self, ctx: &Context, spec: &StreamingNodeSpec) -> Result<QueryInfo> {
        let key = spec.key();
        let mut running = Vec::new();
        for (k, t) in self.tracked() {
            let Some(ck) = &t.info.checkpoint else {
                continue;
            };
            if t.query.is_active().await? {
                if k == key {
                    return Err(Error::AlreadyRunning { key });
                }
                running.push((ck.trim_end_matches('/').to_string(), k));
            }
        }
        let issues = StreamingValidator::check(std::slice::from_ref(spec), &running);
        if !issues.is_empty() {
            return Err(Error::Invalid { issues });
        }
        let session = self.engine.new_session().await?;
        let mut frames = std::collections::HashMap::new();
        for source in &spec.sources {
            let frame = session.read_stream(source).await?;
            frame.create_temp_view(&source.name).await?;
            frames.insert(source.name.clone(), frame);
        }
        if !spec.static_inputs.is_empty() {
            let loader = InputLoader::new(ctx, &session);
            for name in &spec.static_inputs {
                let frame = loader.load(name, None).await?;
                frame.create_temp_view(name).await?;
                frames.insert(name.clone(), frame);
            }
        }
        let result = match &spec.function {
            None => session.sql(&spec.sql).await?,
            Some(name) => {
                self.call_function(ctx, spec, name, &session, frames)
                    .await?
            }
        };
        let query = result.write_stream(&spec.sink).await?;
        let info = QueryInfo {
            key: key.clone(),
            id: query.id().to_string(),
            run_id: query.run_id().to_string(),
            name: query.name().map(String::from),
            checkpoint: spec.sink.checkpoint_location.clone(),
        };
        tracing::info!(query = %key, id = %info.id, run_id = %info.run_id, "streaming query started");
        self.with_queries(|q| {
            q.insert(
                key,
                Tracked {
                    info: info.clone(),
                    query,
                },
            )
        });
        Ok(info)
    }

    /// Every tracked query (running or ended).
    pub fn list(&self) -> Vec<QueryInfo> {
        self.tracked().into_values().map(|t| t.info).collect()
    }

    /// The handle of a tracked query.
    pub fn query(&self, key: &str) -> Result<StreamingQuery> {
        self.get(key)
    }

    /// A query's status.
    pub async fn status(&self, key: &str) -> Result<QueryStatus> {
        Ok(self.get(key)?.status().await?)
    }

    /// A query's last progress.
    pub async fn last_progress(&self, key: &str) -> Result<Option<QueryProgress>> {
        let p = self.get(key)?.last_progress().await?;
        Ok(p.and_then(|p| QueryProgress::from_json(key, &p)))
    }

    /// A query's recent progress, oldest first.
    pub async fn recent_progress(&self, key: &str) -> Result<Vec<QueryProgress>> {
        let p = self.get(key)?.recent_progress().await?;
        Ok(p.iter()
            .filter_map(|p| QueryProgress::from_json(key, p))
            .collect())
    }

    /// The exception that ended a query, if it failed.
    pub async fn exception(&self, key: &str) -> Result<Option<QueryException>> {
        Ok(self.get(key)?.exception().await?)
    }

    /// Waits up to `timeout` for a query to end; true when it did.
    pub async fn await_termination(&self, key: &str, timeout: Duration) -> Result<bool> {
        Ok(self.get(key)?.await_termination(timeout).await?)
    }

    /// Stops a query gracefully, waiting up to `timeout`; [`Error::StopTimeout`] if it is
    /// still active then.
    pub async fn stop(&self, key: &str, timeout: Duration) -> Result<()> {
        let q = self.get(key)?;
        if q.stop(timeout).await? {
            tracing::info!(query = %key, "streaming query stopped");
            Ok(())
        } else {
            Err(Error::StopTimeout {
                key: key.into(),
                after: timeout,
            })
        }
    }

    /// Stops every tracked query (each with `timeout`) and ends the watchers; returns each
    /// query's outcome.
    pub async fn stop_all(&self, timeout: Duration) -> BTreeMap<String, Result<()>> {
        let mut out = BTreeMap::new();
        for key in self.tracked().into_keys() {
            let r = self.stop(&key, timeout).await;
            out.insert(key, r);
        }
        let mut watchers = self.watchers.lock().await;
        watchers.abort_all();
        while watchers.join_next().await.is_some() {}
        out
    }

    /// Watches a query: every `interval`, reports new micro-batches to `sink`, and reports
    /// the end of the query (with its exception) once, then stops watching.
    pub async fn watch(
        &self,
        key: &str,
        interval: Duration,
        sink: Arc<dyn ProgressSink>,
    ) -> Result<()> {
        let query = self.get(key)?;
        let key = key.to_string();
        let mut watchers = self.watchers.lock().await;
        watchers.spawn(async move {
            let mut last_batch = -1_i64;
            loop {
                let report = |p: &serde_json::Value, last: &mut i64| {
                    if let Some(progress) = QueryProgress::from_json(&key, p)
                        && progress.batch_id > *last
                    {
                        *last = progress.batch_id;
                        sink.on_progress(&progress);
                    }
                };
                match query.recent_progress().await {
                    Ok(all) => all.iter().for_each(|p| report(p, &mut last_batch)),
                    Err(e) => tracing::warn!(query = %key, error = %e, "reading progress failed"),
                }
                match query.is_active().await {
                    Ok(true) => {}
                    Ok(false) => {
                        let exception = query.exception().await.ok().flatten();
                        sink.on_terminated(&key, exception.as_ref());
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(query = %key, error = %e, "reading status failed");
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
        Ok(())
    }

    /// Waits for every watcher to end (their queries ended).
    pub async fn join_watchers(&self) {
        let mut watchers = self.watchers.lock().await;
        while watchers.join_next().await.is_some() {}
    }

    /// The session a query runs in (for reading its sink in the same session, e.g.).
    pub fn session(&self, key: &str) -> Result<Session> {
        Ok(self.get(key)?.session().clone())
    }
}
