//! [`HybridRunner`]: batch nodes first, then the streaming nodes until a stop condition.
//!
//! A hybrid pipeline (`type: hybrid`) has batch nodes (no `streaming:` section) and
//! streaming nodes. Both parts are validated before anything runs; the batch nodes run
//! through the [`Executor`]; only when they all succeed do the streaming queries start
//! (they may read the batch outputs as static frames). The streaming phase ends on the
//! first of: every query finished by itself (available-now / once triggers), the timeout,
//! the cancel token, a query failing. Then every query is stopped gracefully and its final
//! progress recorded. A `type: streaming` pipeline has no batch part.
//!
//! A run whose process was killed leaves its queries running on the server (they belong to
//! the server-side session) and recorded in the [`StreamRegistry`]; so do detached runs. The
//! next run of the pipeline stops them before its batch part.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tauro_config::{Context, DateWindow};
use tauro_exec::{Executor, NodeSelection, RunReport, RunStatus};
use tauro_io::{QueryException, SparkEngine};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::manager::{ProgressSink, QueryProgress, StreamingQueryManager};
use crate::registry::{StreamEntry, StreamRegistry, now_rfc3339, remote_host_port};
use crate::spec::{StreamingNodeSpec, is_streaming_node};
use crate::validator::StreamingValidator;

/// How often the running queries are polled (status, and progress for the watcher).
const POLL: Duration = Duration::from_millis(500);

/// When a running streaming phase ends.
#[derive(Debug, Clone, Default)]
pub struct StopCondition {
    /// End when every query finished by itself (every trigger must be available-now or
    /// once; otherwise [`HybridRunner::run`] refuses with [`Error::NeverEnds`]).
    pub until_available: bool,
    /// End this long after the queries started.
    pub timeout: Option<Duration>,
    /// End when this is cancelled (Ctrl-C, `tauro-cli stream stop`); it also cancels the
    /// batch part.
    pub cancel: Option<CancellationToken>,
}

/// How a hybrid (or streaming) run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HybridStatus {
    /// The batch part succeeded and the streams ran until the stop condition.
    Succeeded,
    /// The batch part failed (no stream started), or a query failed.
    Failed,
    /// Cancelled from outside.
    Cancelled,
}

impl fmt::Display for HybridStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        })
    }
}

/// True when `pipeline` has streaming nodes and every one of them ends by itself
/// (available-now or once trigger), so a run can wait until they processed what is there.
pub fn every_trigger_terminates(ctx: &Context, pipeline: &str) -> bool {
    let Ok(nodes) = ctx.pipeline_nodes(pipeline) else {
        return false;
    };
    let mut streaming = nodes.iter().filter_map(|n| n.streaming.as_ref()).peekable();
    streaming.peek().is_some() && streaming.all(|s| s.trigger.terminates())
}

/// The result of a hybrid (or streaming) run.
#[derive(Debug, Clone, Serialize)]
pub struct HybridReport {
    /// The pipeline.
    pub pipeline: String,
    /// How it ended.
    pub status: HybridStatus,
    /// The batch part's report (`None` without batch nodes).
    pub batch: Option<RunReport>,
    /// Every streaming node, in pipeline order.
    pub streams: Vec<StreamReport>,
    /// What ended the run: `available_now finished`, `timeout`, `cancelled`,
    /// `query failed`, `batch failed`.
    pub stopped_by: Option<String>,
}

impl HybridReport {
    /// True when the run succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == HybridStatus::Succeeded
    }

    /// The report of one streaming node.
    pub fn stream(&self, node: &str) -> Option<&StreamReport> {
        self.streams.iter().find(|s| s.node == node)
    }
}

/// What one streaming query did.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// The node.
    pub node: String,
    /// Spark's query id (`None` when the query did not start).
    pub query_id: Option<String>,
    /// The query name.
    pub query_name: Option<String>,
    /// The output dataset the query writes.
    pub sink: String,
    /// Micro-batches run in this run.
    pub batches: u64,
    /// Rows read over those micro-batches.
    pub input_rows: u64,
    /// Spark's last progress of the query (its `StreamingQueryProgress` JSON).
    pub last_progress: Option<serde_json::Value>,
    /// Why the query failed, did not start or did not stop.
    pub error: Option<String>,
}

/// Runs a hybrid (or streaming) pipeline: see the [module docs](self).
pub struct HybridRunner {
    ctx: Arc<Context>,
    pipeline: String,
    engine: SparkEngine,
    executor: Executor,
    window: Option<DateWindow>,
    stop: StopCondition,
    progress: Option<Arc<dyn ProgressSink>>,
    stop_timeout: Duration,
    detach: bool,
    registry: Option<Arc<tauro_exec::NodeRegistry>>,
}

impl fmt::Debug for HybridRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HybridRunner")
            .field("pipeline", &self.pipeline)
            .field("window", &self.window)
            .field("stop", &self.stop)
            .field("stop_timeout", &self.stop_timeout)
            .field("detach", &self.detach)
            .finish_non_exhaustive()
    }
}

/// Collects every micro-batch the watcher reports (and forwards to the caller's sink).
#[derive(Default)]
struct Recorder {
    forward: Option<Arc<dyn ProgressSink>>,
    batches: Mutex<BTreeMap<String, BTreeMap<i64, QueryProgress>>>,
}

impl Recorder {
    /// Records a batch's progress; true when the batch was not seen before.
    fn record(&self, p: &QueryProgress) -> bool {
        let mut all = match self.batches.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        all.entry(p.key.clone())
            .or_default()
            .insert(p.batch_id, p.clone())
            .is_none()
    }

    fn totals(&self, key: &str) -> (u64, u64) {
        let all = match self.batches.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        all.get(key).map_or((0, 0), |b| {
            (
                u64::try_from(b.len()).unwrap_or(u64::MAX),
                b.values().map(|p| p.input_rows).sum(),
            )
        })
    }
}

impl ProgressSink for Recorder {
    /// Forwards each batch once, however often the watcher or the final sweep sees it.
    fn on_progress(&self, progress: &QueryProgress) {
        if self.record(progress)
            && let Some(f) = &self.forward
        {
            f.on_progress(progress);
        }
    }

    fn on_terminated(&self, key: &str, exception: Option<&QueryException>) {
        if let Some(f) = &self.forward {
            f.on_terminated(key, exception);
        }
    }
}

impl HybridRunner {
    /// A runner of `pipeline` (hybrid or streaming): batch nodes on `executor`, streaming
    /// queries on `engine`.
    pub fn new(
        ctx: Arc<Context>,
        pipeline: impl Into<String>,
        engine: SparkEngine,
        executor: Executor,
    ) -> Self {
        Self {
            ctx,
            pipeline: pipeline.into(),
            engine,
            executor,
            window: None,
            stop: StopCondition::default(),
            progress: None,
            stop_timeout: Duration::from_secs(30),
            detach: false,
            registry: None,
        }
    }

    /// The date window of the batch part (default: the global dates).
    pub fn with_window(mut self, window: Option<DateWindow>) -> Self {
        self.window = window;
        self
    }

    /// When the streaming phase ends (default: only when the queries end by themselves
    /// or fail).
    pub fn with_stop(mut self, stop: StopCondition) -> Self {
        self.stop = stop;
        self
    }

    /// Receives the streaming progress (the watcher's micro-batches and query ends).
    pub fn with_progress(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.progress = Some(sink);
        self
    }

    /// How long each query gets to stop gracefully (default 30 s).
    pub fn with_stop_timeout(mut self, d: Duration) -> Self {
        self.stop_timeout = d;
        self
    }

    /// Node functions for streaming nodes computed by `function:` (e.g. the executor's
    /// registry); without it such nodes fail to start.
    pub fn with_registry(mut self, registry: Arc<tauro_exec::NodeRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Detached mode (`tauro-cli exec --mode async`): once the batch part succeeded and
    /// every streaming query started and is active, record the queries in the project's
    /// [`StreamRegistry`] and return (`stopped_by: "detached"`) while they keep running on
    /// the server; [`crate::stream_status`] and [`crate::stream_stop`] find them later. If a
    /// query fails to start, the others are stopped as in a normal run and nothing is
    /// recorded. The stop condition is ignored. The server stops the queries when their
    /// session has been idle for its session timeout (60 min by default); see
    /// [`crate::stream_status`].
    pub fn with_detach(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }

    /// Validates both parts, runs the batch nodes, then the streaming nodes until the stop
    /// condition; see the [module docs](self).
    ///
    /// Configuration problems are errors (nothing ran). A failed batch part, a failed
    /// query and cancellation are in the report.
    pub async fn run(self) -> Result<HybridReport> {
        let ctx = Arc::clone(&self.ctx);
        let pipeline = self.pipeline.clone();
        let Some(config) = ctx.pipelines.get(&pipeline) else {
            return Err(Error::UnknownPipeline { name: pipeline });
        };
        // Validation of both parts, before anything runs.
        let specs = StreamingValidator::validate_pipeline(&ctx, &pipeline)
            .map_err(|issues| Error::Invalid { issues })?;
        if self.stop.until_available {
            let never: Vec<String> = specs
                .iter()
                .filter(|s| !s.sink.trigger.terminates())
                .map(|s| s.node.clone())
                .collect();
            if !never.is_empty() {
                return Err(Error::NeverEnds { nodes: never });
            }
        }
        let batch_nodes: Vec<String> = config
            .nodes
            .iter()
            .filter(|n| !is_streaming_node(&ctx, &pipeline, n))
            .cloned()
            .collect();
        let mut executor = self.executor.clone();
        if let Some(cancel) = &self.stop.cancel {
            executor = executor.with_cancel(cancel.clone());
        }
        let selection = NodeSelection::Only(batch_nodes.clone());
        if !batch_nodes.is_empty() {
            executor.validate(&ctx, &pipeline, self.window, &selection)?;
        }

        let mut report = HybridReport {
            pipeline: pipeline.clone(),
            status: HybridStatus::Succeeded,
            batch: None,
            streams: specs.iter().map(not_started).collect(),
            stopped_by: None,
        };

        // Queries an earlier run of this pipeline left running (a killed run never removes
        // them from the registry) would keep reading the batch outputs about to be rewritten.
        self.stop_leftovers().await;

        // Batch part.
        if !batch_nodes.is_empty() {
            let batch = executor
                .run(Arc::clone(&ctx), &pipeline, self.window, &selection)
                .await?;
            let status = batch.status;
            report.batch = Some(batch);
            match status {
                RunStatus::Succeeded => {}
                RunStatus::Failed => {
                    tracing::warn!(pipeline = %pipeline, "batch part failed; no streaming query starts");
                    report.status = HybridStatus::Failed;
                    report.stopped_by = Some("batch failed".into());
                    return Ok(report);
                }
                RunStatus::Cancelled => {
                    report.status = HybridStatus::Cancelled;
                    report.stopped_by = Some("cancelled".into());
                    return Ok(report);
                }
            }
        }
        if self.stop.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            report.status = HybridStatus::Cancelled;
            report.stopped_by = Some("cancelled".into());
            return Ok(report);
        }
        if specs.is_empty() {
            return Ok(report);
        }

        // Streaming part.
        let mut manager = StreamingQueryManager::new(self.engine.clone());
        if let Some(registry) = &self.registry {
            manager = manager.with_registry(Arc::clone(registry));
        }
        let recorder = Arc::new(Recorder {
            forward: self.progress.clone(),
            ..Recorder::default()
        });
        let mut start_failed = false;
        for (spec, stream) in specs.iter().zip(report.streams.iter_mut()) {
            match manager.start(&ctx, spec).await {
                Ok(info) => {
                    stream.query_id = Some(info.id);
                    stream.query_name = info.name;
                    if self.detach {
                        continue;
                    }
                    if let Err(e) = manager
                        .watch(
                            &info.key,
                            POLL,
                            Arc::clone(&recorder) as Arc<dyn ProgressSink>,
                        )
                        .await
                    {
                        tracing::warn!(query = %info.key, error = %e, "watching the query failed");
                    }
                }
                Err(e) => {
                    stream.error = Some(with_hint(&e));
                    start_failed = true;
                    break;
                }
            }
        }
        if self.detach && !start_failed {
            match self
                .detach_queries(&manager, &specs, &mut report.streams)
                .await
            {
                Ok(true) => {
                    report.stopped_by = Some("detached".into());
                    return Ok(report);
                }
                Ok(false) => start_failed = true,
                Err(e) => {
                    // Not recorded: stop the queries rather than leave them unreachable.
                    manager.stop_all(self.stop_timeout).await;
                    return Err(e);
                }
            }
        }
        // Recorded while they run, so `tauro-cli stream status|stop` reach them from another
        // process; removed once they are stopped.
        let recorded = if start_failed {
            Vec::new()
        } else {
            self.record_running(&manager, &specs, &report.streams)
        };
        let (status, stopped_by) = if start_failed {
            (HybridStatus::Failed, "query failed")
        } else {
            self.wait(&manager, &specs, &mut report.streams).await
        };
        report.status = status;
        report.stopped_by = Some(stopped_by.to_string());

        // Graceful stop and final progress.
        let stopped = manager.stop_all(self.stop_timeout).await;
        if !recorded.is_empty()
            && let Err(e) = StreamRegistry::for_context(&self.ctx).remove(&self.pipeline, &recorded)
        {
            tracing::warn!(error = %e, "could not remove the stopped queries from the registry");
        }
        for (spec, stream) in specs.iter().zip(report.streams.iter_mut()) {
            let key = spec.key();
            if stream.query_id.is_none() {
                continue;
            }
            if let Some(Err(e)) = stopped.get(&key)
                && stream.error.is_none()
            {
                stream.error = Some(with_hint(e));
            }
            if let Ok(all) = manager.recent_progress(&key).await {
                // Batches that finished between two polls of the watcher reach the sink too.
                all.iter().for_each(|p| recorder.on_progress(p));
            }
            (stream.batches, stream.input_rows) = recorder.totals(&key);
            stream.last_progress = match manager.query(&key) {
                Ok(q) => q.last_progress().await.ok().flatten(),
                Err(_) => None,
            };
            if stream.error.is_none()
                && let Ok(Some(e)) = manager.exception(&key).await
            {
                stream.error = Some(e.to_string());
            }
        }
        Ok(report)
    }

    /// Stops the queries the registry still holds for this pipeline: those of a run that was
    /// killed (or detached with `--mode async`). Starting this run's queries from the same
    /// checkpoints would stop them anyway (Spark stops the active run of a query when a new
    /// run starts); stopping them first keeps them off the batch part's outputs (a static
    /// input rewritten under a running query fails it with `FILE_NOT_EXIST`) and ends them
    /// even when the batch part fails. Problems are logged: the run goes on.
    async fn stop_leftovers(&self) {
        let registry = StreamRegistry::for_context(&self.ctx);
        match registry.entries(&self.pipeline) {
            Ok(entries) if entries.is_empty() => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not read the registry of running queries");
                return;
            }
        }
        match crate::registry::stream_stop(
            &self.ctx,
            &self.engine,
            &self.pipeline,
            self.stop_timeout,
        )
        .await
        {
            Ok(states) => {
                for s in states {
                    if s.stopped {
                        tracing::warn!(
                            pipeline = %self.pipeline, node = %s.entry.node,
                            query = %s.entry.query_id, session = %s.entry.session_id,
                            "stopped a streaming query an earlier run left running"
                        );
                    } else if let Some(e) = s.error {
                        tracing::warn!(
                            pipeline = %self.pipeline, node = %s.entry.node, error = %e,
                            "could not stop a streaming query an earlier run left running"
                        );
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not stop the queries of an earlier run"),
        }
    }

    /// Checks that every started query is active (or ended without error) and records them
    /// in the registry. `Ok(false)` when a query failed (its error is in `streams`).
    async fn detach_queries(
        &self,
        manager: &StreamingQueryManager,
        specs: &[StreamingNodeSpec],
        streams: &mut [StreamReport],
    ) -> Result<bool> {
        let remote = remote_host_port(self.engine.remote());
        let mut entries = Vec::new();
        for (spec, stream) in specs.iter().zip(streams.iter_mut()) {
            let key = spec.key();
            let Some(query_id) = stream.query_id.clone() else {
                continue;
            };
            let status = manager.status(&key).await?;
            if !status.is_active
                && let Some(e) = manager.exception(&key).await?
            {
                stream.error = Some(e.to_string());
                return Ok(false);
            }
            stream.last_progress = manager.query(&key)?.last_progress().await.ok().flatten();
            entries.push(StreamEntry {
                pipeline: spec.pipeline.clone(),
                node: spec.node.clone(),
                query_id,
                query_name: stream.query_name.clone(),
                session_id: manager.session(&key)?.id().to_string(),
                remote: remote.clone(),
                started_at: now_rfc3339(),
            });
        }
        StreamRegistry::for_context(&self.ctx).record(&entries)?;
        tracing::info!(
            pipeline = %self.pipeline,
            queries = entries.len(),
            "streaming queries detached; they keep running on the server"
        );
        Ok(true)
    }

    /// Records the started queries of a waiting (sync) run in the registry; returns the
    /// recorded node names. A failure to record only costs `stream status|stop`: logged.
    fn record_running(
        &self,
        manager: &StreamingQueryManager,
        specs: &[StreamingNodeSpec],
        streams: &[StreamReport],
    ) -> Vec<String> {
        let remote = remote_host_port(self.engine.remote());
        let mut entries = Vec::new();
        for (spec, stream) in specs.iter().zip(streams) {
            let (Some(query_id), Ok(session)) =
                (stream.query_id.clone(), manager.session(&spec.key()))
            else {
                continue;
            };
            entries.push(StreamEntry {
                pipeline: spec.pipeline.clone(),
                node: spec.node.clone(),
                query_id,
                query_name: stream.query_name.clone(),
                session_id: session.id().to_string(),
                remote: remote.clone(),
                started_at: now_rfc3339(),
            });
        }
        match StreamRegistry::for_context(&self.ctx).record(&entries) {
            Ok(()) => entries.into_iter().map(|e| e.node).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not record the running queries");
                Vec::new()
            }
        }
    }

    /// Waits for the stop condition; records a failed query's exception.
    async fn wait(
        &self,
        manager: &StreamingQueryManager,
        specs: &[StreamingNodeSpec],
        streams: &mut [StreamReport],
    ) -> (HybridStatus, &'static str) {
        let deadline = self.stop.timeout.map(|t| tokio::time::Instant::now() + t);
        let cancel = self.stop.cancel.clone().unwrap_or_default();
        loop {
            let mut all_ended = true;
            for (spec, stream) in specs.iter().zip(streams.iter_mut()) {
                let key = spec.key();
                match manager.status(&key).await {
                    Ok(s) if s.is_active => all_ended = false,
                    Ok(_) => {
                        if let Ok(Some(e)) = manager.exception(&key).await {
                            tracing::warn!(query = %key, error = %e, "streaming query failed");
                            stream.error = Some(e.to_string());
                            return (HybridStatus::Failed, "query failed");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(query = %key, error = %e, "reading the query status failed");
                        all_ended = false;
                    }
                }
            }
            if all_ended {
                // Queries that never end by themselves were stopped from outside
                // (`tauro-cli stream stop`).
                let finished = specs.iter().all(|s| s.sink.trigger.terminates());
                return (
                    HybridStatus::Succeeded,
                    if finished {
                        "available_now finished"
                    } else {
                        "stopped"
                    },
                );
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return (HybridStatus::Cancelled, "cancelled"),
                () = sleep => return (HybridStatus::Succeeded, "timeout"),
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

fn not_started(spec: &StreamingNodeSpec) -> StreamReport {
    StreamReport {
        node: spec.node.clone(),
        query_id: None,
        query_name: spec.sink.query_name.clone(),
        sink: spec.sink.name.clone(),
        batches: 0,
        input_rows: 0,
        last_progress: None,
        error: None,
    }
}

fn with_hint(e: &Error) -> String {
    match e.hint() {
        Some(h) => format!("{e} (hint: {h})"),
        None => e.to_string(),
    }
}
