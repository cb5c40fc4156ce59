//! The scheduling loop of one run (rules in the module docs of `executor`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tauro_config::Context;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::events::{Emitter, ProgressEvent, ProgressSink, RunInfo};
use crate::lineage::NodeLineage;
use crate::ml::MlPlan;
use crate::report::{NodeError, NodeMlRecord, NodeResult, RunReport, RunStatus, StopReason};
use crate::retry::RetryPolicy;
use crate::runner::{NodeJob, NodeOutcome, NodeRunner, WrittenOutput, total_rows};
use crate::state::{NodeStatus, UnifiedPipelineState};
use crate::validator::ValidatedPipeline;

/// Effective settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_workers: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) continue_on_error: bool,
    pub(crate) node_timeout: Option<Duration>,
    pub(crate) breaker_threshold: u32,
    pub(crate) cancel_grace: Duration,
}

pub(crate) struct Run {
    pub(crate) runner: Arc<dyn NodeRunner>,
    pub(crate) ctx: Arc<Context>,
    pub(crate) settings: Settings,
    pub(crate) cancel: CancellationToken,
    pub(crate) sink: Option<Arc<dyn ProgressSink>>,
    pub(crate) run_id: String,
    /// The resolved ML settings (empty when the pipeline has no ML node).
    pub(crate) ml: Arc<MlPlan>,
    /// Expected node durations (from earlier runs), for critical-path ordering.
    pub(crate) estimates: Option<Arc<HashMap<String, Duration>>>,
}

/// The priority of each node: the expected time from its start to the end of the longest path
/// of dependents below it (its own estimate plus its heaviest dependent's priority), in
/// microseconds. Nodes without an estimate count as the mean of the known ones. All zero
/// without estimates, which keeps topological order.
fn critical_path(
    state: &UnifiedPipelineState,
    estimates: Option<&HashMap<String, Duration>>,
) -> Vec<u64> {
    let n = state.len();
    let Some(estimates) = estimates.filter(|e| !e.is_empty()) else {
        return vec![0; n];
    };
    let known: Vec<u64> = (0..n)
        .filter_map(|i| estimates.get(state.name_at(i)))
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    let fallback = if known.is_empty() {
        0
    } else {
        known.iter().sum::<u64>() / known.len() as u64
    };
    let own = |i: usize| {
        estimates.get(state.name_at(i)).map_or(fallback, |d| {
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
        })
    };
    // Kahn's order, then a pass in reverse: every dependent is done before its dependency.
    let mut waiting: Vec<usize> = (0..n).map(|i| state.dependency_count_at(i)).collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let i = order[next];
        next += 1;
        for &d in state.dependents_at(i) {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                order.push(d);
            }
        }
    }
    let mut priority = vec![0u64; n];
    for &i in order.iter().rev() {
        let below = state
            .dependents_at(i)
            .iter()
            .map(|&d| priority[d])
            .max()
            .unwrap_or(0);
        priority[i] = own(i).saturating_add(below);
    }
    priority
}

/// Per-node bookkeeping besides the state machine.
struct Track {
    /// Index of the node in `ctx.nodes`.
    node: usize,
    max_attempts: u32,
    timeout: Option<Duration>,
    started_at: Option<DateTime<Utc>>,
    started: Option<Instant>,
    outputs: Vec<WrittenOutput>,
    error: Option<NodeError>,
    lineage: Option<NodeLineage>,
    metrics: indexmap::IndexMap<String, f64>,
    expectations: Vec<crate::expect::ExpectationResult>,
    spark: Option<tauro_io::RpcStats>,
}

/// The mutable part of a run.
struct Loop<'a> {
    run: &'a Run,
    emitter: Emitter<'a>,
    pipeline: Arc<str>,
    window: Option<tauro_config::DateWindow>,
    state: UnifiedPipelineState,
    tracks: Vec<Track>,
    results: Vec<Option<NodeResult>>,
    remaining: Vec<usize>,
    /// Ready nodes: the longest expected remaining path first, then topological order.
    ready: BinaryHeap<(u64, Reverse<usize>)>,
    priority: Vec<u64>,
    retries: BinaryHeap<Reverse<(Instant, usize)>>,
    tasks: JoinSet<Result<NodeOutcome>>,
    task_node: HashMap<Id, usize>,
    /// Parent of every attempt's token: cancelled on Ctrl-C or when the breaker opens.
    abort: CancellationToken,
    abort_deadline: Option<Instant>,
    stop: Option<StopReason>,
    user_cancelled: bool,
    consecutive_failures: u32,
}

impl Run {
    pub(crate) async fn execute(&self, validated: ValidatedPipeline) -> Result<RunReport> {
        let started_at = Utc::now();
        let started = Instant::now();
        let graph = validated.graph();
        let mut keep = vec![false; graph.len()];
        for &i in validated.selected_indices() {
            keep[i] = true;
        }
        let state = UnifiedPipelineState::from_graph_subset(graph, &keep);
        let mut tracks = Vec::with_capacity(state.len());
        for i in 0..state.len() {
            let name = state.name_at(i);
            let (node, _, config) =
                self.ctx
                    .nodes
                    .get_full(name)
                    .ok_or_else(|| Error::NodeNotDefined {
                        pipeline: graph.pipeline().to_string(),
                        node: name.to_string(),
                        suggestion: None,
                        location: Box::new(tauro_config::Location {
                            file: self.ctx.project_dir.clone(),
                            line: 0,
                        }),
                    })?;
            tracks.push(Track {
                max_attempts: config.retries.unwrap_or(self.settings.retry.max_retries) + 1,
                timeout: config.timeout.or(self.settings.node_timeout),
                node,
                started_at: None,
                started: None,
                outputs: Vec::new(),
                error: None,
                lineage: None,
                metrics: indexmap::IndexMap::new(),
                expectations: Vec::new(),
                spark: None,
            });
        }
        let n = state.len();
        let priority = critical_path(&state, self.estimates.as_deref());
        let mut lp = Loop {
            run: self,
            emitter: Emitter::new(
                self.sink.as_deref(),
                RunInfo::new(self.run_id.clone(), graph.pipeline()).started_at(started_at),
            ),
            pipeline: graph.pipeline().into(),
            window: validated.window(),
            remaining: (0..n).map(|i| state.dependency_count_at(i)).collect(),
            ready: (0..n)
                .filter(|&i| state.dependency_count_at(i) == 0)
                .map(|i| (priority[i], Reverse(i)))
                .collect(),
            priority,
            state,
            tracks,
            results: (0..n).map(|_| None).collect(),
            retries: BinaryHeap::new(),
            tasks: JoinSet::new(),
            task_node: HashMap::new(),
            abort: CancellationToken::new(),
            abort_deadline: None,
            stop: None,
            user_cancelled: false,
            consecutive_failures: 0,
        };
        lp.emitter.emit(|| ProgressEvent::RunStarted {
            pipeline: graph.pipeline().to_string(),
            nodes: n,
        });
        lp.drive().await;
        let status = if lp.user_cancelled {
            RunStatus::Cancelled
        } else if lp.stop.is_some() || lp.state.summary().failed > 0 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        let duration = started.elapsed();
        lp.emitter.emit(|| ProgressEvent::RunFinished {
            pipeline: graph.pipeline().to_string(),
            status,
            duration,
            stop_reason: lp.stop.clone(),
        });
        let nodes: Vec<NodeResult> = lp.results.into_iter().flatten().collect();
        let ml = (!self.ml.is_empty()).then(|| {
            let mut info = self.ml.run.clone();
            for n in &nodes {
                info.metrics
                    .extend(n.metrics.iter().map(|(k, v)| (k.clone(), *v)));
            }
            info
        });
        Ok(RunReport {
            run_id: self.run_id.clone(),
            pipeline: graph.pipeline().to_string(),
            status,
            stop_reason: lp.stop,
            started_at,
            duration,
            nodes,
            ml,
        })
    }
}

impl Loop<'_> {
    async fn drive(&mut self) {
        let run = self.run;
        if run.cancel.is_cancelled() {
            self.cancel_run();
        }
        // Created once: registering a fresh waiter on the token every turn costs more than
        // the rest of a no-op node's scheduling.
        let cancelled = run.cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            if self.stop.is_none() {
                self.start_what_can_start();
            } else {
                self.drop_pending_retries();
            }
            if self.tasks.is_empty() && self.retries.is_empty() {
                break;
            }
            let next_retry = self
                .retries
                .peek()
                .map(|Reverse((at, _))| *at)
                .filter(|_| self.tasks.len() < run.settings.max_workers);
            let abort_deadline = self.abort_deadline;
            tokio::select! {
                biased;
                () = &mut cancelled, if !self.user_cancelled => self.cancel_run(),
                Some(joined) = self.tasks.join_next_with_id() => {
                    self.on_joined(joined);
                    // Take every other attempt that already finished before starting more.
                    while let Some(joined) = self.tasks.try_join_next_with_id() {
                        self.on_joined(joined);
                    }
                }
                () = sleep_until(next_retry), if next_retry.is_some() => {}
                () = sleep_until(abort_deadline), if abort_deadline.is_some() => {
                    tracing::warn!("node attempts did not stop within the cancel grace period; aborting them");
                    self.tasks.abort_all();
                    self.abort_deadline = None;
                }
                else => break,
            }
        }
        // Whatever never started: skipped ones are already final; the rest was cut off.
        for i in 0..self.state.len() {
            if self.state.status_at(i) == NodeStatus::Pending {
                self.set(i, NodeStatus::Cancelled);
                self.finish(i);
            }
        }
    }

    /// Due retries first, then ready nodes, while worker slots are free.
    fn start_what_can_start(&mut self) {
        let now = Instant::now();
        while self.tasks.len() < self.run.settings.max_workers {
            let i = match self.retries.peek() {
                Some(Reverse((at, i))) if *at <= now => {
                    let i = *i;
                    self.retries.pop();
                    i
                }
                _ => match self.ready.pop() {
                    Some((_, Reverse(i))) => i,
                    None => break,
                },
            };
            self.spawn_attempt(i);
        }
    }

    fn spawn_attempt(&mut self, i: usize) {
        if let Err(e) = self.state.start_at(i) {
            tracing::error!(error = %e, "scheduler state out of sync");
            return;
        }
        let attempt = self.state.attempts_at(i);
        let track = &mut self.tracks[i];
        if track.started.is_none() {
            track.started = Some(Instant::now());
            track.started_at = Some(Utc::now());
            let name = &self.run.ctx.nodes[track.node].name;
            self.emitter
                .emit(|| ProgressEvent::NodeStarted { node: name.clone() });
        }
        let mut job = NodeJob::at(
            Arc::clone(&self.run.ctx),
            track.node,
            Arc::clone(&self.pipeline),
            self.window,
            attempt,
            self.abort.child_token(),
        )
        .with_run_id(self.run.run_id.as_str());
        if let Some(settings) = self.run.ml.node(&self.run.ctx.nodes[track.node].name) {
            job = job.with_ml(Arc::clone(settings));
        }
        let work = attempt_with_timeout(
            Arc::clone(&self.run.runner),
            job,
            track.timeout,
            self.run.settings.cancel_grace,
        );
        let handle = self.tasks.spawn(work);
        self.task_node.insert(handle.id(), i);
    }

    fn on_joined(&mut self, joined: std::result::Result<(Id, Result<NodeOutcome>), JoinError>) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            Err(e) => (e.id(), Err(self.join_error(e))),
        };
        let Some(i) = self.task_node.remove(&id) else {
            return;
        };
        match outcome {
            Ok(outcome) => self.on_success(i, outcome),
            Err(error) => self.on_failure(i, error),
        }
    }

    fn join_error(&self, e: JoinError) -> Error {
        let node = self
            .task_node
            .get(&e.id())
            .map(|&i| self.state.name_at(i).to_string())
            .unwrap_or_default();
        match e.try_into_panic() {
            Ok(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_string());
                Error::Panicked { node, message }
            }
            Err(_) => Error::Cancelled { node },
        }
    }

    fn on_success(&mut self, i: usize, outcome: NodeOutcome) {
        self.consecutive_failures = 0;
        self.tracks[i].outputs = outcome.outputs;
        self.tracks[i].lineage = outcome.lineage;
        self.tracks[i].metrics = outcome.metrics;
        self.tracks[i].expectations = outcome.expectations;
        self.tracks[i].spark = outcome.spark;
        self.tracks[i].error = None;
        self.set(i, NodeStatus::Completed);
        self.finish(i);
        for k in 0..self.state.dependents_at(i).len() {
            let d = self.state.dependents_at(i)[k];
            self.remaining[d] -= 1;
            if self.remaining[d] == 0 && self.state.status_at(d) == NodeStatus::Pending {
                self.ready.push((self.priority[d], Reverse(d)));
            }
        }
    }

    fn on_failure(&mut self, i: usize, error: Error) {
        if self.abort.is_cancelled() {
            // The run was stopping; whatever the attempt says, it was cut off.
            self.tracks[i].error = Some(error.into());
            self.set(i, NodeStatus::Cancelled);
            self.finish(i);
            return;
        }
        self.consecutive_failures += 1;
        let threshold = self.run.settings.breaker_threshold;
        let breaker_opens = threshold > 0 && self.consecutive_failures >= threshold;
        let attempt = self.state.attempts_at(i);
        let max_attempts = self.tracks[i].max_attempts;
        let will_retry = !breaker_opens && self.stop.is_none() && attempt < max_attempts;
        let error = NodeError::from(error);
        let message = error.message.clone();
        if let Err(e) = self.state.fail_at(i, &message, will_retry) {
            tracing::error!(error = %e, "scheduler state out of sync");
        }
        self.tracks[i].error = Some(error);
        if will_retry {
            let delay = self.run.settings.retry.delay(attempt);
            let name = self.name(i);
            tracing::warn!(node = %name, attempt, ?delay, error = %message, "node attempt failed; retrying");
            self.emitter.emit(|| ProgressEvent::NodeRetrying {
                node: name.to_string(),
                attempt: attempt + 1,
                max_attempts,
                delay,
                error: message,
            });
            self.retries.push(Reverse((Instant::now() + delay, i)));
            return;
        }
        self.finish(i);
        for d in self.state.skip_downstream_at(i) {
            self.finish(d);
        }
        let node = self.name(i).to_string();
        if breaker_opens {
            if !self.user_cancelled {
                self.stop = Some(StopReason::CircuitBreakerOpen { threshold, node });
            }
            self.abort_running();
        } else if !self.run.settings.continue_on_error && self.stop.is_none() {
            self.stop = Some(StopReason::NodeFailed { node });
        }
    }

    fn cancel_run(&mut self) {
        self.user_cancelled = true;
        self.stop = Some(StopReason::Cancelled);
        self.abort_running();
    }

    fn abort_running(&mut self) {
        if !self.abort.is_cancelled() {
            self.abort.cancel();
            self.abort_deadline = Some(Instant::now() + self.run.settings.cancel_grace);
        }
    }

    /// The run is stopping: nodes waiting for a retry will not get it.
    fn drop_pending_retries(&mut self) {
        while let Some(Reverse((_, i))) = self.retries.pop() {
            self.set(i, NodeStatus::Cancelled);
            self.finish(i);
        }
    }

    fn set(&mut self, i: usize, status: NodeStatus) {
        if let Err(e) = self.state.set(i, status) {
            tracing::error!(error = %e, "scheduler state out of sync");
        }
    }

    fn name(&self, i: usize) -> &str {
        &self.run.ctx.nodes[self.tracks[i].node].name
    }

    /// Records node `i`'s final result and reports it.
    fn finish(&mut self, i: usize) {
        let track = &mut self.tracks[i];
        let outputs = std::mem::take(&mut track.outputs);
        let rows_written = total_rows(&outputs);
        let name = &self.run.ctx.nodes[track.node].name;
        let ml = self.run.ml.node(name).map(|s| {
            Box::new(NodeMlRecord {
                model_name: s.model_name.clone(),
                model_version: s.model_version.clone(),
                hyperparams: s.hyperparams.clone(),
            })
        });
        let result = NodeResult {
            name: name.clone(),
            status: self.state.status_at(i),
            attempts: self.state.attempts_at(i),
            started_at: track.started_at,
            finished_at: track.started_at.map(|_| Utc::now()),
            duration: track.started.map(|s| s.elapsed()),
            rows_written,
            outputs,
            error: track.error.take(),
            lineage: track.lineage.take(),
            metrics: std::mem::take(&mut track.metrics),
            expectations: std::mem::take(&mut track.expectations),
            ml,
            spark: track.spark.take(),
        };
        if self.emitter.is_active() {
            let event = ProgressEvent::NodeFinished(result.clone());
            self.emitter.emit(|| event);
        }
        self.results[i] = Some(result);
    }
}

/// One attempt under its timeout. On expiry the attempt's token is cancelled and the runner
/// gets `grace` to interrupt its work before the timeout is reported.
async fn attempt_with_timeout(
    runner: Arc<dyn NodeRunner>,
    job: NodeJob,
    timeout: Option<Duration>,
    grace: Duration,
) -> Result<NodeOutcome> {
    let cancel = job.cancel_token().clone();
    let node = job.node().name.clone();
    let work = runner.run(job);
    tokio::pin!(work);
    let Some(limit) = timeout else {
        return work.await;
    };
    tokio::select! {
        result = &mut work => result,
        () = tokio::time::sleep(limit) => {
            cancel.cancel();
            match tokio::time::timeout(grace, &mut work).await {
                Ok(Ok(outcome)) => Ok(outcome), // it finished as it was being cancelled
                Ok(Err(_)) => Err(Error::Timeout { node, after: limit }),
                Err(_) => {
                    tracing::warn!(node = %node, "node did not stop within the grace period after its timeout");
                    Err(Error::Timeout { node, after: limit })
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
